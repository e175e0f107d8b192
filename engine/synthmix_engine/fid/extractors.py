"""Named, pluggable feature extractors. Every features file and FID row carries the extractor's
`id` and `weightsSha256` (sha256 of the weights file it loaded), so numbers from different
feature spaces are never mixed.

Registered:
- `inception-v3-fid`: the FID-standard Inception v3 pool3 (2048-d), pytorch-fid's architecture
  (`inception.py`) with the official `pt_inception-2015-12-05-6726825d.pth` loaded from the spec
  input `weights` (never downloaded). Preprocessing as pytorch-fid: RGB in [0,1], bilinear resize
  to 299×299, scale to [-1,1].
- `synthmix-builtin-v1`: the project's ResNet-18 pretrained on the prior domain
  (`synthmix_engine.classifier.resnet.build_resnet18(num_classes, width, stem)`, features from
  `forward_features`), weights = torchvision-style state dict from the spec input `weights`.
  Input pipeline = the classifier's (`classifier.data.normalize`: [0,1] RGB, ImageNet mean/std),
  images at their own (curated) size, which must be the same for every image of the set.
  Options: width, stem ("cifar" | "imagenet" | "auto" with imageSize) (required), numClasses
  (default: rows of `fc.weight`). id = "synthmix-builtin-v1/resnet18-w{width}-{stem}".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..protocol import PermanentError
from ..runtime import sha256_file

INCEPTION_ID = "inception-v3-fid"
BUILTIN_ID = "synthmix-builtin-v1"


@dataclass
class Extractor:
    id: str
    weights_sha256: str
    model: Any
    device: Any
    dim: int | None  # None: known after the first batch
    info: dict[str, Any] = field(default_factory=dict)
    same_size_batches: bool = True  # images of a batch must share H×W (else per-image handling)
    _forward: Callable[[Any], Any] | None = None

    def features(self, batch: Any) -> np.ndarray:
        """batch: float32 tensor N×3×H×W in [0, 1] (on any device) -> float32 N×D numpy."""
        import torch

        with torch.inference_mode():
            x = batch.to(self.device, dtype=torch.float32, non_blocking=True)
            out = self._forward(x) if self._forward is not None else self.model(x)
            if out.ndim != 2:
                out = torch.flatten(out, 1)
            result = out.to("cpu", dtype=torch.float32).numpy()
        if self.dim is None:
            self.dim = int(result.shape[1])
        return result


def _load_state_dict(path: str) -> dict[str, Any]:
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return dict(load_file(path))
        except Exception as error:  # noqa: BLE001 - any parse failure is bad input
            raise PermanentError(f"cannot read weights file {path}: {error}") from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001
        raise PermanentError(f"cannot read weights file {path} as a PyTorch state dict: {error}") from error
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise PermanentError(f"weights file {path} does not hold a state dict")
    return state


def load_matching_state_dict(model: Any, state: dict[str, Any], path: str, what: str) -> None:
    """Strict key/shape check with a clear error; BatchNorm `num_batches_tracked` may be absent."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(getattr(state[k], "shape", ())) != tuple(v.shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) e.g. {unexpected[:3]}")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatch(es) e.g. {wrong[:3]}")
        raise PermanentError(f"weights file {path} does not fit {what}: " + "; ".join(parts))
    model.load_state_dict(state, strict=False)


def _inception(weights: str | None, options: dict[str, Any], device: Any) -> Extractor:
    from .inception import FEATURE_DIM, FID_WEIGHTS_SHA256_PREFIX, FIDInceptionV3

    unknown = set(options) - set()
    if unknown:
        raise PermanentError(f"extractor {INCEPTION_ID} takes no options, got {sorted(unknown)}")
    if not weights:
        raise PermanentError(
            f"extractor {INCEPTION_ID} needs the spec input 'weights' "
            "(pt_inception-2015-12-05-6726825d.pth; it is never downloaded)"
        )
    sha = sha256_file(weights, "weights file")
    model = FIDInceptionV3()
    load_matching_state_dict(model, _load_state_dict(weights), weights, f"{INCEPTION_ID} (pytorch-fid Inception v3)")
    model.eval().to(device)
    official = sha.startswith(FID_WEIGHTS_SHA256_PREFIX)
    return Extractor(
        INCEPTION_ID, sha, model, device, FEATURE_DIM, {"officialWeights": official}, same_size_batches=False
    )


def _builtin(weights: str | None, options: dict[str, Any], device: Any) -> Extractor:
    unknown = set(options) - {"width", "stem", "numClasses", "imageSize"}
    if unknown:
        raise PermanentError(f"extractor {BUILTIN_ID}: unknown option(s) {sorted(unknown)}")
    for name in ("width", "stem"):
        if name not in options:
            raise PermanentError(f"extractor {BUILTIN_ID} needs the option '{name}' (ResNet-18 architecture)")
    if not weights:
        raise PermanentError(f"extractor {BUILTIN_ID} needs the spec input 'weights' (ResNet-18 state dict)")
    try:
        from ..classifier.data import normalize
        from ..classifier.resnet import build_resnet18, load_exact, read_state_dict
    except ImportError as error:
        raise PermanentError(
            f"extractor {BUILTIN_ID} needs synthmix_engine.classifier.resnet.build_resnet18, "
            f"which this engine lacks: {error}"
        ) from error
    width = int(options["width"])
    state = read_state_dict(weights)
    num_classes = options.get("numClasses")
    if num_classes is None:
        fc = state.get("fc.weight")
        if fc is None:
            raise PermanentError(f"weights file {weights} has no 'fc.weight'; give the option 'numClasses'")
        num_classes = int(fc.shape[0])
    image_size = options.get("imageSize")
    model = build_resnet18(int(num_classes), width, str(options["stem"]), None if image_size is None else int(image_size))
    load_exact(model, state, weights)
    model.eval().to(device)
    ext_id = f"{BUILTIN_ID}/resnet18-w{width}-{model.stem}"

    def forward(x: Any) -> Any:
        # the classifier's own input pipeline: [0,1] RGB, ImageNet mean/std (classifier/data.py)
        return model.forward_features(normalize(x))

    return Extractor(ext_id, sha256_file(weights, "weights file"), model, device, int(model.feature_dim), {}, True, forward)


EXTRACTORS: dict[str, Callable[[str | None, dict[str, Any], Any], Extractor]] = {
    INCEPTION_ID: _inception,
    BUILTIN_ID: _builtin,
}


def load_extractor(name: str, weights: str | None, options: dict[str, Any] | None, device: Any) -> Extractor:
    if name not in EXTRACTORS:
        raise PermanentError(f"param 'extractor': unknown extractor '{name}' (known: {sorted(EXTRACTORS)})")
    if options is not None and not isinstance(options, dict):
        raise PermanentError("param 'extractorOptions' must be an object")
    return EXTRACTORS[name](weights, dict(options or {}), device)
