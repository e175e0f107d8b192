"""ResNet-18 classifier: model (`resnet`), image data (`data`), RandAugment (`augment`),
training loop (`train`) and metrics (`evaluate`). Commands: train-classifier, evaluate-classifier."""
