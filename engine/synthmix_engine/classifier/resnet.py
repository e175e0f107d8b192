"""ResNet-18 with torchvision's parameter names, at any width, with an ImageNet or a CIFAR stem.

`build_resnet18(num_classes, width=64, stem="cifar")` builds BasicBlock [2, 2, 2, 2] with widths
width x (1, 2, 4, 8) and batch norm. At width 64 with stem "imagenet" its state dict has exactly
the keys, order and shapes of `torchvision.models.resnet18(num_classes=...)`, so a torchvision
ImageNet state dict loads as is (`load_pretrained`). Initialisation follows torchvision's
(kaiming-normal fan_out convs, BN weight 1 / bias 0, default Linear init), drawn from torch's
global RNG: seed it before building.

Stems: "imagenet" = 7x7 stride-2 conv + 3x3 stride-2 max-pool (for images >= 128 px);
"cifar" = 3x3 stride-1 conv, no pool (small images); "auto" = `choose_stem(image_size)`.
The CIFAR stem keeps the module names (`conv1`, `bn1`, `maxpool` as an Identity), so its
parameter names are torchvision's too; only `conv1.weight` is 3x3 instead of 7x7.

`model.forward_features(x)` returns the pooled (N, 8 * width) features before `fc`.
"""
from __future__ import annotations

import os
from typing import Mapping

import torch
from torch import nn

from ..protocol import PermanentError

STEMS = ("imagenet", "cifar")
AUTO_STEM_MIN_SIZE = 128


def choose_stem(image_size: int) -> str:
    """The stem "auto" picks: "imagenet" for inputs of at least 128 px, else "cifar"."""
    return "imagenet" if int(image_size) >= AUTO_STEM_MIN_SIZE else "cifar"


def resolve_stem(stem: str, image_size: int | None) -> str:
    if stem == "auto":
        if image_size is None:
            raise PermanentError("stem 'auto' needs the image size to choose between 'imagenet' and 'cifar'")
        return choose_stem(image_size)
    if stem not in STEMS:
        raise PermanentError(f"unknown stem '{stem}': use 'imagenet', 'cifar' or 'auto'")
    return stem


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, num_classes: int, width: int = 64, stem: str = "cifar") -> None:
        super().__init__()
        if stem not in STEMS:
            raise PermanentError(f"unknown stem '{stem}': use 'imagenet', 'cifar' or 'auto'")
        if int(width) < 1 or int(num_classes) < 1:
            raise PermanentError(f"width ({width}) and numClasses ({num_classes}) must be positive")
        self.width, self.stem, self.num_classes = int(width), stem, int(num_classes)
        widths = [self.width * f for f in (1, 2, 4, 8)]
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1) if stem == "imagenet" else nn.Identity()
        inplanes = widths[0]
        for index, planes in enumerate(widths):
            stride = 1 if index == 0 else 2
            layer = nn.Sequential(BasicBlock(inplanes, planes, stride), BasicBlock(planes, planes, 1))
            self.add_module(f"layer{index + 1}", layer)
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], self.num_classes)
        self.feature_dim = widths[3]
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)

    def backbone_modules(self) -> list[nn.Module]:
        """Every child except `fc` (what mode "frozen" freezes)."""
        return [module for name, module in self.named_children() if name != "fc"]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


def build_resnet18(num_classes: int, width: int = 64, stem: str = "cifar", image_size: int | None = None) -> ResNet18:
    """ResNet-18 (BasicBlock [2,2,2,2], widths width x (1,2,4,8)), torchvision parameter names.

    stem: "imagenet" (7x7/2 + max-pool), "cifar" (3x3/1, no pool) or "auto" (needs image_size;
    imagenet for >= 128 px)."""
    return ResNet18(num_classes, width, resolve_stem(stem, image_size))


# ---------------------------------------------------------------------------------------------
# state dicts (torchvision names) in .pt or .safetensors files


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a torch .pt file (a plain {name: tensor} dict, or
    one wrapped as {"state_dict": ...} / {"model": ...}); a leading "module." (DataParallel) is
    stripped. Unreadable ⇒ PermanentError naming the file."""
    if not os.path.isfile(path):
        raise PermanentError(f"weights file {path} does not exist")
    try:
        if path.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(path, device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any decode failure is bad input
        raise PermanentError(f"cannot read weights file {path}: {type(error).__name__}: {error}") from error
    if isinstance(state, Mapping):
        for wrapper in ("state_dict", "model"):
            if wrapper in state and isinstance(state[wrapper], Mapping) and len(state) == 1:
                state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PermanentError(f"weights file {path} is not a state dict of tensors (name -> tensor)")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


BN_COUNTER = "num_batches_tracked"


def _optional_bn_counter(name: str, state: Mapping[str, torch.Tensor]) -> bool:
    """A BatchNorm `num_batches_tracked` buffer that the file lacks. Published torchvision files may
    omit them (they predate the buffer, or were saved without buffers); eval-mode outputs never read
    them and, at the default momentum, neither does training, so the model keeps its own (0), as
    torch's own BatchNorm loader does for such files."""
    return name.endswith("." + BN_COUNTER) and name not in state


def _check_keys_and_shapes(model: nn.Module, state: Mapping[str, torch.Tensor], source: str, skip: tuple[str, ...],
                           allow_missing_bn_counters: bool = False) -> None:
    own = model.state_dict()
    for name, tensor in own.items():
        if name.startswith(skip) or (allow_missing_bn_counters and _optional_bn_counter(name, state)):
            continue
        if name not in state:
            raise PermanentError(f"weights {source} lack the parameter '{name}' (expected shape {tuple(tensor.shape)})")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise PermanentError(
                f"weights {source}: parameter '{name}' has shape {tuple(state[name].shape)}, "
                f"the model (width {getattr(model, 'width', '?')}, stem {getattr(model, 'stem', '?')}) "
                f"expects {tuple(tensor.shape)}"
            )
    for name in state:
        if name not in own and not name.startswith(skip):
            raise PermanentError(f"weights {source} have the parameter '{name}' that a ResNet-18 lacks")


def load_pretrained(model: ResNet18, state: Mapping[str, torch.Tensor], source: str = "pretrained") -> bool:
    """Load a torchvision-named state dict into `model`. `fc` is loaded only when its shape matches
    (same class count); otherwise the model keeps its freshly initialised `fc`. BatchNorm
    `num_batches_tracked` buffers may be absent (the model keeps its own 0). Any other missing,
    unexpected or differently shaped parameter ⇒ PermanentError naming it and both shapes.
    Returns True when `fc` was replaced (kept fresh)."""
    _check_keys_and_shapes(model, state, source, skip=("fc.",), allow_missing_bn_counters=True)
    own = model.state_dict()
    fc_matches = all(k in state and tuple(state[k].shape) == tuple(own[k].shape) for k in ("fc.weight", "fc.bias"))
    with torch.no_grad():
        for name, tensor in own.items():
            if (name.startswith("fc.") and not fc_matches) or _optional_bn_counter(name, state):
                continue
            tensor.copy_(state[name].to(dtype=tensor.dtype))
    return not fc_matches


def load_exact(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load a state dict that must match the model exactly (fc included) ⇒ else PermanentError."""
    _check_keys_and_shapes(model, state, source, skip=())
    own = model.state_dict()
    with torch.no_grad():
        for name, tensor in own.items():
            tensor.copy_(state[name].to(dtype=tensor.dtype))


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A deep copy of the model's state dict on the CPU (never a reference to live tensors)."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}
