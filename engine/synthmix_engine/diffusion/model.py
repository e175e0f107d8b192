"""`DiffusionModel`: one interface over the built-in pixel-space model and Stable Diffusion.

A model folder is either
  - built-in: model_index.json {"kind": "builtin", ...}, unet/, text_encoder/, tokenizer/vocab.json,
    scheduler/scheduler_config.json (written by `pretrain-generator`), or
  - Stable Diffusion in the diffusers layout: model_index.json (StableDiffusionPipeline), unet/,
    vae/, text_encoder/, tokenizer/, scheduler/ (e.g. SD v1-4); a "kind": "stable-diffusion" key
    is optional.
Everything loads from the local folder only (`local_files_only=True`, HF_HUB_OFFLINE=1).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

import numpy as np
import torch

from ..protocol import PermanentError, read_input_json
from ..runtime import cpu_generator, sha256_files
from .text import TinyTextEncoder, WordTokenizer

KIND_BUILTIN = "builtin"
KIND_SD = "stable-diffusion"
INDEX_FILE = "model_index.json"


def read_index(folder: str, what: str = "base") -> tuple[str, dict[str, Any]]:
    """(kind, model_index) of a model folder; PermanentError naming the folder when unusable."""
    if not os.path.isdir(folder):
        raise PermanentError(f"input '{what}': model folder {folder} does not exist")
    path = os.path.join(folder, INDEX_FILE)
    if not os.path.isfile(path):
        raise PermanentError(f"input '{what}': {folder} has no {INDEX_FILE} (not a model folder)")
    index = read_input_json(path, what)
    kind = index.get("kind")
    if kind is None and "StableDiffusion" in str(index.get("_class_name", "")):
        kind = KIND_SD
    if kind not in (KIND_BUILTIN, KIND_SD):
        raise PermanentError(f"input '{what}': {path} has unknown model kind {kind!r} (builtin|stable-diffusion)")
    needed = ["unet", "text_encoder", "tokenizer", "scheduler"] + (["vae"] if kind == KIND_SD else [])
    for sub in needed:
        if not os.path.isdir(os.path.join(folder, sub)):
            raise PermanentError(f"input '{what}': {kind} model folder {folder} lacks {sub}/")
    return kind, index


def folder_fingerprint(folder: str) -> str:
    """Cheap identity of a model folder: contents of its small files, names and sizes of big ones."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            size = os.path.getsize(path)
            digest.update(f"{rel}:{size}\n".encode())
            if size <= 1 << 20:
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


class _ClipTokenizer:
    """CLIPTokenizer behind the WordTokenizer interface."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        self.model_max_length = int(tokenizer.model_max_length)

    def __len__(self) -> int:
        return len(self.tok)

    def __call__(self, texts: list[str]) -> torch.Tensor:
        return self.tok(list(texts), padding="max_length", max_length=self.model_max_length, truncation=True,
                        return_tensors="pt").input_ids

    def ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False).input_ids)

    def unknown_words(self, _text: str) -> list[str]:
        return []  # byte-level BPE: every word has tokens

    def has_token(self, token: str) -> bool:
        return token in self.tok.get_vocab()

    def add_token(self, token: str) -> int:
        self.tok.add_tokens([token])
        return int(self.tok.convert_tokens_to_ids(token))

    def save(self, folder: str) -> None:
        self.tok.save_pretrained(folder)


def _has_token(tokenizer: Any, token: str) -> bool:
    if isinstance(tokenizer, WordTokenizer):
        return token in tokenizer.index
    return tokenizer.has_token(token)


class DiffusionModel:
    """UNet + text encoder + tokenizer + noise scheduler (+ VAE for Stable Diffusion)."""

    def __init__(self, kind: str, unet: Any, text_encoder: Any, tokenizer: Any, scheduler: Any,
                 vae: Any = None, index: dict[str, Any] | None = None, model_id: str = "") -> None:
        self.kind = kind
        self.unet = unet
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.scheduler = scheduler
        self.vae = vae
        self.index = dict(index or {})
        self.model_id = model_id
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        # The folder's own scheduler class (scheduler_config.json `_class_name`): the default sampler.
        self.scheduler_class: str | None = None

    # ---- loading and saving -------------------------------------------------------------
    @staticmethod
    def load(folder: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
             what: str = "base") -> "DiffusionModel":
        kind, index = read_index(folder, what)
        from diffusers import DDPMScheduler, UNet2DConditionModel

        from safetensors import SafetensorError

        def weights(cls: Any, sub: str) -> Any:
            path = os.path.join(folder, sub)
            try:
                return cls.from_pretrained(path, local_files_only=True)
            except OSError:  # SD folders sometimes hold only the fp16 variant
                if not any(".fp16." in name for name in os.listdir(path)):
                    raise
                return cls.from_pretrained(path, local_files_only=True, variant="fp16").float()

        try:
            unet = weights(UNet2DConditionModel, "unet")
            scheduler = DDPMScheduler.from_pretrained(os.path.join(folder, "scheduler"), local_files_only=True)
            vae = None
            if kind == KIND_BUILTIN:
                text_encoder = weights(TinyTextEncoder, "text_encoder")
                tokenizer: Any = WordTokenizer.load(os.path.join(folder, "tokenizer"))
            else:
                from diffusers import AutoencoderKL
                from transformers import CLIPTextModel, CLIPTokenizer

                text_encoder = weights(CLIPTextModel, "text_encoder")
                tokenizer = _ClipTokenizer(CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer"),
                                                                         local_files_only=True))
                vae = weights(AutoencoderKL, "vae")
        except ImportError as error:
            raise PermanentError(f"input '{what}': loading a {kind} model needs {error.name} (see engine/requirements.txt)") from error
        except (OSError, ValueError, KeyError, json.JSONDecodeError, SafetensorError) as error:
            raise PermanentError(f"input '{what}': cannot load the {kind} model in {folder}: {error}") from error
        model_id = index.get("modelId") or f"{kind}-{folder_fingerprint(folder)[:16]}"
        model = DiffusionModel(kind, unet, text_encoder, tokenizer, scheduler, vae, index, model_id)
        scheduler_config = os.path.join(folder, "scheduler", "scheduler_config.json")
        if os.path.isfile(scheduler_config):
            model.scheduler_class = read_input_json(scheduler_config, what).get("_class_name")
        return model.to(device, dtype)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> "DiffusionModel":
        self.device = torch.device(device)
        if dtype is not None:
            self.dtype = dtype
        for module in self.modules():
            module.to(self.device, self.dtype)
        return self

    def modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.unet, self.text_encoder, self.vae) if m is not None]

    def save_builtin(self, folder: str, extra_index: dict[str, Any] | None = None) -> str:
        """Write a built-in model folder (safetensors weights); returns its modelId."""
        if self.kind != KIND_BUILTIN:
            raise ValueError("only built-in models are saved whole")
        os.makedirs(folder, exist_ok=True)
        self.unet.save_pretrained(os.path.join(folder, "unet"), safe_serialization=True)
        self.text_encoder.save_pretrained(os.path.join(folder, "text_encoder"), safe_serialization=True)
        self.tokenizer.save(os.path.join(folder, "tokenizer"))
        self.scheduler.save_pretrained(os.path.join(folder, "scheduler"))
        weights = [os.path.join(folder, sub, "diffusion_pytorch_model.safetensors") for sub in ("unet", "text_encoder")]
        sha = sha256_files(weights + [os.path.join(folder, "tokenizer", "vocab.json")])
        model_id = f"builtin-{sha[:16]}"
        index = {
            "_class_name": "SynthmixBuiltinPipeline",
            "kind": KIND_BUILTIN,
            "modelId": model_id,
            "resolution": int(self.unet.config.sample_size),
            "unet": ["diffusers", "UNet2DConditionModel"],
            "text_encoder": ["synthmix_engine", "TinyTextEncoder"],
            "tokenizer": ["synthmix_engine", "WordTokenizer"],
            "scheduler": ["diffusers", "DDPMScheduler"],
            **(extra_index or {}),
        }
        with open(os.path.join(folder, INDEX_FILE), "w", encoding="utf-8") as handle:
            json.dump(index, handle, indent=2, sort_keys=True)
        self.model_id = model_id
        self.index = index
        return model_id

    # ---- geometry -----------------------------------------------------------------------
    @property
    def vae_scale(self) -> int:
        if self.vae is None:
            return 1
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def resolution(self) -> int:
        return int(self.unet.config.sample_size) * self.vae_scale

    def latent_shape(self, resolution: int) -> tuple[int, int, int]:
        if resolution % self.vae_scale:
            raise PermanentError(f"resolution {resolution} is not a multiple of the VAE factor {self.vae_scale}")
        side = resolution // self.vae_scale
        return (int(self.unet.config.in_channels), side, side)

    # ---- text ---------------------------------------------------------------------------
    def tokenize(self, prompts: list[str]) -> torch.Tensor:
        return self.tokenizer(list(prompts)).to(self.device)

    def encode_prompt(self, prompts: list[str]) -> torch.Tensor:
        return self.text_encoder(self.tokenize(prompts))[0]

    def has_token(self, token: str) -> bool:
        return _has_token(self.tokenizer, token)

    def check_words(self, text: str, what: str) -> None:
        """A word the method needs to exist (DreamBooth's rare token): unknown is a permanent error."""
        unknown = self.tokenizer.unknown_words(text)
        if unknown:
            raise PermanentError(f"{what}: {unknown} not in the built-in model's vocabulary")

    def warn_unknown_words(self, text: str, what: str) -> list[str]:
        """Words the small built-in vocabulary lacks (a dataset's own class names) are read as `<unk>`:
        the stand-in generator works for any classes, and says which words it could not read."""
        unknown = self.tokenizer.unknown_words(text)
        if unknown:
            sys.stderr.write(f"{what}: {unknown} not in the built-in model's vocabulary (read as <unk>; fine-tuning learns the class from its images)\n")
        return unknown

    def add_placeholder(self, token: str, init: torch.Tensor | None = None) -> int:
        """Add a new token (textual inversion) with embedding `init`; returns its id."""
        if self.has_token(token):
            raise PermanentError(f"param 'token': {token!r} is already in the vocabulary; textual inversion needs a new placeholder such as '<cat>'")
        try:
            token_id = self.tokenizer.add_token(token)
        except ValueError as error:
            raise PermanentError(f"param 'token': {error}") from error
        rows = self.text_encoder.get_input_embeddings().weight.shape[0]
        if token_id >= rows:  # (a tiny test CLIP may have spare rows beyond its tokenizer)
            if isinstance(self.tokenizer, WordTokenizer):
                self.text_encoder.resize_token_embeddings(token_id + 1)
            else:
                self.text_encoder.resize_token_embeddings(token_id + 1, mean_resizing=False)
        if init is not None:
            with torch.no_grad():
                self.text_encoder.get_input_embeddings().weight[token_id] = init.to(self.device, self.dtype)
        return token_id

    def word_embedding(self, text: str, what: str) -> torch.Tensor:
        """Mean input embedding of the tokens of `text` (textual-inversion initialiser)."""
        self.warn_unknown_words(text, what)
        ids = self.tokenizer.ids(text)
        if not ids:
            raise PermanentError(f"{what}: {text!r} has no tokens")
        weight = self.text_encoder.get_input_embeddings().weight
        return weight[torch.tensor(ids, device=weight.device)].detach().float().mean(dim=0)

    # ---- images <-> latents ---------------------------------------------------------------
    def to_latents(self, images_uint8: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = images_uint8.to(self.device, torch.float32) / 127.5 - 1.0
        x = x.to(self.dtype)
        if self.vae is None:
            return x
        with torch.no_grad():
            dist = self.vae.encode(x).latent_dist
            return dist.sample(generator=generator) * self.vae.config.scaling_factor

    def from_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 3, H, W] images."""
        if self.vae is not None:
            latents = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        x = ((latents.float().clamp(-1, 1) + 1) * 127.5).round()
        return x.to(torch.uint8).cpu()

    # ---- training ------------------------------------------------------------------------
    def denoise_loss(self, latents: torch.Tensor, hidden: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Per-sample denoising MSE (epsilon or v target, per the scheduler config)."""
        n = latents.shape[0]
        noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32).to(self.device, latents.dtype)
        steps = int(self.scheduler.config.num_train_timesteps)
        timesteps = torch.randint(0, steps, (n,), generator=generator).to(self.device)
        noisy = self.scheduler.add_noise(latents, noise, timesteps)
        kind = self.scheduler.config.prediction_type
        if kind == "epsilon":
            target = noise
        elif kind == "v_prediction":
            target = self.scheduler.get_velocity(latents, noise, timesteps)
        else:
            raise PermanentError(f"unsupported scheduler prediction_type {kind!r}")
        pred = self.unet(noisy, timesteps, encoder_hidden_states=hidden.to(self.unet.dtype)).sample
        return ((pred.float() - target.float()) ** 2).mean(dim=(1, 2, 3))

    # ---- sampling ------------------------------------------------------------------------
    @property
    def default_scheduler(self) -> str:
        from .schedulers import default_scheduler

        return default_scheduler(self.scheduler_class)

    @torch.no_grad()
    def sample_latents(self, prompts: list[str], seeds: list[int], steps: int, guidance: float,
                       negative_prompt: str = "", resolution: int | None = None,
                       scheduler_name: str | None = None) -> torch.Tensor:
        """The denoised latents (pixels for the built-in model), as diffusers' StableDiffusionPipeline
        computes them with the same scheduler, steps, guidance and initial latents. Image b depends
        only on (prompts[b], seeds[b]) and the settings: its noise comes from its own generator."""
        from .schedulers import make_scheduler, step_kwargs

        if len(prompts) != len(seeds):
            raise ValueError("one seed per prompt")
        resolution = resolution or self.resolution
        shape = self.latent_shape(resolution)
        scheduler = make_scheduler(scheduler_name or self.default_scheduler, self.scheduler.config, latent=self.vae is not None)
        scheduler.set_timesteps(int(steps), device=self.device)
        unique = sorted(set(prompts))
        table = self.encode_prompt(unique)
        cond = table[torch.tensor([unique.index(p) for p in prompts], device=self.device)]
        use_cfg = float(guidance) != 1.0
        if use_cfg:
            uncond = self.encode_prompt([negative_prompt]).expand(len(prompts), -1, -1)
            context = torch.cat([uncond, cond]).to(self.unet.dtype)
        else:
            context = cond.to(self.unet.dtype)
        noise = torch.stack([torch.randn(shape, generator=cpu_generator(s), dtype=torch.float32) for s in seeds])
        latents = noise.to(self.device, self.unet.dtype) * scheduler.init_noise_sigma
        extra = step_kwargs(scheduler, latent=self.vae is not None)
        for t in scheduler.timesteps:
            model_in = torch.cat([latents, latents]) if use_cfg else latents
            model_in = scheduler.scale_model_input(model_in, t)
            out = self.unet(model_in, t, encoder_hidden_states=context).sample
            if use_cfg:
                out_uncond, out_cond = out.chunk(2)
                out = out_uncond + float(guidance) * (out_cond - out_uncond)
            latents = scheduler.step(out, t, latents, **extra).prev_sample
        return latents

    @torch.no_grad()
    def sample(self, prompts: list[str], seeds: list[int], steps: int, guidance: float,
               negative_prompt: str = "", resolution: int | None = None,
               scheduler_name: str | None = None) -> torch.Tensor:
        """uint8 [B, 3, R, R] images (see sample_latents)."""
        return self.from_latents(self.sample_latents(prompts, seeds, steps, guidance, negative_prompt, resolution, scheduler_name))


def to_pil(image_uint8: torch.Tensor, size: int | None = None) -> Any:
    from PIL import Image

    array = image_uint8.permute(1, 2, 0).numpy()
    image = Image.fromarray(np.ascontiguousarray(array)).convert("RGB")
    if size and image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return image
