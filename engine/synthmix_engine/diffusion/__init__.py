"""Text-to-image diffusion for synthmix: one code path for two model sizes.

- `builtin`: a small pixel-space text-conditioned model built from diffusers parts
  (UNet2DConditionModel + DDPM/DDIM schedulers) with a small word-level text encoder
  (`text.py`). Offline, CPU-capable; it plays Stable Diffusion in the embedded demo world.
- `stable-diffusion`: a diffusers-layout folder (AutoencoderKL + CLIP text encoder/tokenizer +
  UNet), e.g. SD v1-4, loaded from a local path only.

`model.DiffusionModel` hides the difference (latent vs pixel space, tokenizer, text encoder);
`train.py` holds the shared training pieces (denoising loss, checkpoints) used by the
`pretrain-generator`, `finetune-generator` and `generate-images` commands.
Nothing here downloads: HF_HUB_OFFLINE is forced and every load is `local_files_only`.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _import_diffusers_lean() -> None:
    """With transformers installed, importing diffusers' model code also imports transformers'
    quantization machinery (~1.5 s CPU per engine process). Nothing here needs it (the SD path
    imports CLIPTextModel itself), so load diffusers' models with that probe off, then restore it."""
    try:
        from diffusers.utils import import_utils
    except ImportError:
        return
    if not getattr(import_utils, "_transformers_available", False):
        return
    import_utils._transformers_available = False
    try:
        import diffusers.models.modeling_utils  # noqa: F401
    finally:
        import_utils._transformers_available = True


_import_diffusers_lean()
