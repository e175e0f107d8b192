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
    """With transformers installed, importing diffusers' model code also imports transformers
    (diffusers.quantizers tries `from transformers.utils.quantization_config import ...`): ~1.5 s
    CPU per engine process. Nothing here needs that (the SD path imports CLIPTextModel itself), so
    diffusers' model code is imported with transformers hidden, then transformers is visible again."""
    import sys

    if "transformers" in sys.modules or "diffusers.models.modeling_utils" in sys.modules:
        return
    try:
        from diffusers.utils import import_utils
    except ImportError:
        return
    available = getattr(import_utils, "_transformers_available", False)
    import_utils._transformers_available = False
    sys.modules["transformers"] = None  # type: ignore[assignment]  (import transformers -> ImportError)
    try:
        import diffusers.models.modeling_utils  # noqa: F401
        from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel  # noqa: F401
    finally:
        del sys.modules["transformers"]
        import_utils._transformers_available = available
        # diffusers.loaders fixed its lazy name table while transformers was hidden (no
        # FromSingleFileMixin...): forget it, so a later import (StableDiffusionPipeline, as the
        # scheduler oracle test uses) builds it again with transformers visible.
        sys.modules.pop("diffusers.loaders", None)


_import_diffusers_lean()
