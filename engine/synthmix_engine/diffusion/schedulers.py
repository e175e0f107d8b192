"""Samplers by name (`generator.scheduler`), built as diffusers' Stable Diffusion pipeline builds them.

A sampler is the diffusers scheduler class of that name made `from_config` of the model folder's own
scheduler config (its betas, timestep spacing, prediction type...). The default is the folder's own
scheduler class (SD v1: PNDM) when it is one of these; the built-in model's training scheduler
(DDPM) samples with DDIM (eta 0), as it always has.

Latent models (Stable Diffusion) get what `StableDiffusionPipeline.__init__` enforces on any folder:
`steps_offset` 1 and `clip_sample` off (clipping is meant for pixels in [-1, 1], not for latents).
The built-in pixel model keeps its folder's `clip_sample`.
"""
from __future__ import annotations

import inspect
from typing import Any

from ..protocol import PermanentError

# name -> diffusers class name
SCHEDULERS: dict[str, str] = {
    "ddim": "DDIMScheduler",
    "lms": "LMSDiscreteScheduler",
    "euler": "EulerDiscreteScheduler",
    "dpm++2m": "DPMSolverMultistepScheduler",
    "pndm": "PNDMScheduler",
}
NAMES: tuple[str, ...] = tuple(SCHEDULERS)
BY_CLASS = {cls: name for name, cls in SCHEDULERS.items()}


def default_scheduler(folder_class: str | None) -> str:
    """The folder's own sampler when it is one we name; DDIM otherwise (e.g. a DDPM training scheduler)."""
    return BY_CLASS.get(folder_class or "", "ddim")


def make_scheduler(name: str, config: Any, latent: bool) -> Any:
    """A fresh scheduler `name` from the folder's scheduler `config` (latent: SD pipeline settings)."""
    import diffusers

    if name not in SCHEDULERS:
        raise PermanentError(f"params.scheduler: {name!r} is not one of {'|'.join(NAMES)}")
    cls = getattr(diffusers, SCHEDULERS[name])
    overrides: dict[str, Any] = {}
    if latent:
        overrides = {"steps_offset": 1, "clip_sample": False}
    if name == "dpm++2m":
        # DPM-Solver++ (2M): the multistep second-order solver diffusers' own "DPM++ 2M" is.
        overrides.update({"algorithm_type": "dpmsolver++", "solver_order": 2})
    # As keyword arguments: they win over the config, which drops values the folder never set
    # (`_use_default_values`: the loader's own defaults, e.g. DDPM's clip_sample) in favour of this class's.
    return cls.from_config(config, **overrides)


def step_kwargs(scheduler: Any, latent: bool, eta: float = 0.0) -> dict[str, Any]:
    """The extra `step` arguments: what the pipeline passes (`prepare_extra_step_kwargs`: eta where
    accepted); the pixel model's DDIM also re-derives its noise from the clipped sample, as it always has."""
    accepted = set(inspect.signature(scheduler.step).parameters)
    extra: dict[str, Any] = {"eta": eta} if "eta" in accepted else {}
    if not latent and "use_clipped_model_output" in accepted and bool(getattr(scheduler.config, "clip_sample", False)):
        extra["use_clipped_model_output"] = True
    return extra
