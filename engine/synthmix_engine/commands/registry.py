"""Commands beyond the runner's own (`info`, `dummy-train`). One line per command: name -> module."""

COMMANDS: dict[str, str] = {
    "pretrain-generator": "pretrain_generator",
    "finetune-generator": "finetune_generator",
    "generate-images": "generate_images",
    "train-classifier": "train_classifier",
    "evaluate-classifier": "evaluate_classifier",
    "extract-features": "extract_features",
    "fid-table": "fid_table",
}
