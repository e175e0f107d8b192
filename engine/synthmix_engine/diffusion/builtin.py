"""The built-in generator: a small pixel-space text-to-image diffusion model from diffusers parts.

Sizes (`modelSize`):
  tiny   ~0.1M UNet params, for tests.
  small  ~1.0M UNet params (16/32/64 channels, cross-attention + attention-pooled text in the
         time embedding at 8x8): the demo size, ~0.23 GFLOP per 32x32 denoising step.
  base   ~4M UNet params (32/64/128 channels, cross-attention at 16x16 and 8x8): better images
         for a longer CPU/GPU pretraining run.
Training noise: DDPMScheduler, cosine (squaredcos_cap_v2) betas, v-prediction, 1000 steps,
"trailing" timestep spacing (good few-step DDIM sampling); samples are clipped to [-1, 1].
"""
from __future__ import annotations

from typing import Any

from diffusers import DDPMScheduler, UNet2DConditionModel

from .text import TinyTextEncoder, WordTokenizer, default_vocabulary

_DOWN3 = ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
_UP3 = ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D")

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "unet": dict(block_out_channels=(16, 32), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                     up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=1,
                     cross_attention_dim=32, addition_embed_type_num_heads=1),
        "text": dict(hidden_size=32, num_layers=1, num_heads=1),
    },
    "small": {
        "unet": dict(block_out_channels=(16, 32, 64), down_block_types=_DOWN3, up_block_types=_UP3,
                     attention_head_dim=2, cross_attention_dim=64, addition_embed_type_num_heads=2),
        "text": dict(hidden_size=64, num_layers=2, num_heads=2),
    },
    "base": {
        "unet": dict(block_out_channels=(32, 64, 128),
                     down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                     up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                     attention_head_dim=(1, 2, 4), cross_attention_dim=128, addition_embed_type_num_heads=4),
        "text": dict(hidden_size=128, num_layers=3, num_heads=4),
    },
}

SCHEDULER_CONFIG: dict[str, Any] = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",
    prediction_type="v_prediction",
    clip_sample=True,
    clip_sample_range=1.0,
    timestep_spacing="trailing",
)


def create_builtin(size: str | dict[str, Any], image_size: int, extra_words: list[str] | None = None,
                   max_length: int = 20) -> tuple[UNet2DConditionModel, TinyTextEncoder, WordTokenizer, DDPMScheduler]:
    """Fresh (randomly initialised; seed torch first) components of a built-in model."""
    if isinstance(size, str):
        if size not in PRESETS:
            raise KeyError(size)
        preset = PRESETS[size]
    else:
        preset = size
    tokenizer = WordTokenizer(default_vocabulary(extra_words), max_length=max_length)
    text_cfg = dict(preset["text"])
    text_encoder = TinyTextEncoder(vocab_size=len(tokenizer), max_position_embeddings=max_length, **text_cfg)
    unet_cfg = dict(preset["unet"])
    unet_cfg["cross_attention_dim"] = text_cfg["hidden_size"]
    unet = UNet2DConditionModel(
        sample_size=image_size, in_channels=3, out_channels=3, layers_per_block=1, norm_num_groups=8,
        addition_embed_type="text", **unet_cfg,
    )
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    return unet, text_encoder, tokenizer, scheduler
