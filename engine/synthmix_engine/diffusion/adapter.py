"""Per-class adapters written by `finetune-generator` and applied by `generate-images`.

adapter/adapter.json  {"method": "dreambooth"|"textual-inversion", "token", "className",
                       "baseModelId", "adapterId", ...}
dreambooth:           adapter/unet/ (fine-tuned UNet, diffusers layout, safetensors)
                      [+ adapter/text_encoder/ when the text encoder was trained]
textual-inversion:    adapter/learned_embeds.safetensors  {token: embedding [dim]} (the diffusers
                      textual-inversion format)
"""
from __future__ import annotations

import json
import os
from typing import Any

import torch

from ..protocol import PermanentError, read_input_json
from ..runtime import sha256_files
from .model import KIND_BUILTIN, DiffusionModel
from .text import TinyTextEncoder

META_FILE = "adapter.json"
EMBEDS_FILE = "learned_embeds.safetensors"
METHODS = ("dreambooth", "textual-inversion")


def _forget_load_path(module: Any) -> None:
    """diffusers' `from_pretrained` records the folder it loaded from (`_name_or_path`: here the
    attempt's work dir) in the config that `save_pretrained` writes. Drop it, so that an adapter's
    bytes depend on its inputs only (a resumed attempt or another run writes the same files)."""
    config = getattr(module, "_internal_dict", None)
    if config is not None and "_name_or_path" in config:
        from diffusers.configuration_utils import FrozenDict

        module._internal_dict = FrozenDict({k: v for k, v in config.items() if k != "_name_or_path"})


def write_adapter(folder: str, model: DiffusionModel, meta: dict[str, Any], *, unet: bool = False,
                  text_encoder: bool = False, embedding: tuple[str, torch.Tensor] | None = None) -> str:
    from safetensors.torch import save_file

    os.makedirs(folder, exist_ok=True)
    weights: list[str] = []
    if unet:
        _forget_load_path(model.unet)
        model.unet.save_pretrained(os.path.join(folder, "unet"), safe_serialization=True)
        weights.append(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"))
    if text_encoder:
        _forget_load_path(model.text_encoder)
        model.text_encoder.save_pretrained(os.path.join(folder, "text_encoder"), safe_serialization=True)
        weights += sorted(os.path.join(folder, "text_encoder", f) for f in os.listdir(os.path.join(folder, "text_encoder"))
                          if f.endswith(".safetensors"))
    if embedding is not None:
        token, vector = embedding
        path = os.path.join(folder, EMBEDS_FILE)
        save_file({token: vector.detach().float().cpu().contiguous()}, path)
        weights.append(path)
    adapter_id = f"{meta['method']}-{sha256_files(weights)[:16]}"
    with open(os.path.join(folder, META_FILE), "w", encoding="utf-8") as handle:
        json.dump({**meta, "adapterId": adapter_id}, handle, indent=2, sort_keys=True)
    return adapter_id


def read_adapter(folder: str, what: str = "adapter") -> dict[str, Any]:
    path = os.path.join(folder, META_FILE)
    if not os.path.isdir(folder):
        raise PermanentError(f"input '{what}': adapter folder {folder} does not exist")
    meta = read_input_json(path, what)
    if meta.get("method") not in METHODS:
        raise PermanentError(f"input '{what}': {path} has unknown method {meta.get('method')!r}")
    return meta


def apply_adapter(model: DiffusionModel, folder: str, meta: dict[str, Any], what: str = "adapter") -> None:
    """Load the adapter's weights into `model` (in place)."""
    if meta.get("baseModelId") and meta["baseModelId"] != model.model_id:
        raise PermanentError(
            f"input '{what}': adapter {folder} was trained on base model {meta['baseModelId']}, not {model.model_id}")
    if meta["method"] == "dreambooth":
        from diffusers import UNet2DConditionModel

        unet_dir = os.path.join(folder, "unet")
        if not os.path.isdir(unet_dir):
            raise PermanentError(f"input '{what}': dreambooth adapter {folder} lacks unet/")
        model.unet = UNet2DConditionModel.from_pretrained(unet_dir, local_files_only=True).to(model.device, model.dtype)
        te_dir = os.path.join(folder, "text_encoder")
        if os.path.isdir(te_dir):
            if model.kind == KIND_BUILTIN:
                encoder: Any = TinyTextEncoder.from_pretrained(te_dir, local_files_only=True)
            else:
                from transformers import CLIPTextModel

                encoder = CLIPTextModel.from_pretrained(te_dir, local_files_only=True)
            model.text_encoder = encoder.to(model.device, model.dtype)
        return
    from safetensors.torch import load_file

    path = os.path.join(folder, EMBEDS_FILE)
    if not os.path.isfile(path):
        raise PermanentError(f"input '{what}': textual-inversion adapter {folder} lacks {EMBEDS_FILE}")
    for token, vector in load_file(path).items():
        dim = model.text_encoder.get_input_embeddings().weight.shape[1]
        if vector.shape != (dim,):
            raise PermanentError(f"input '{what}': embedding of {token!r} has shape {tuple(vector.shape)}, the text encoder needs ({dim},)")
        model.add_placeholder(token, vector)
