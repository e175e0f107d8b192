"""`pretrain-generator`: train the built-in text-to-image diffusion model on the "prior" domain.

inputs:  images   local manifest (protocol.py) of RGB PNGs of size imageSize; captions are made
                  from the class name and caption templates ("a photo of a {class}", ...).
params:  steps (int, required), batchSize (32), lr (1e-3, AdamW, linear warm-up then constant),
         seed (0), imageSize (32), modelSize ("small": tiny|small|base), checkpointEvery (500),
         cfgDropout (0.1: share of empty captions, for classifier-free guidance), emaDecay (0.999;
         0 = no EMA), warmupSteps (min(200, steps/10)), weightDecay (0.0), gradClip (1.0),
         hflip (false), captionTemplates (list of "{}" templates), extraWords (words to add to the
         vocabulary; the class names and template words are added anyway), progressEvery (10),
         device ("auto").
outputs: model    a built-in model folder (EMA weights): model_index.json {kind: builtin, modelId},
                  unet/, text_encoder/, tokenizer/vocab.json, scheduler/.
Progress: stage "train" with the mean denoising loss since the last event. Checkpoints
(model, EMA, optimizer, lr schedule, step; randomness is derived from (seed, step)) every
checkpointEvery steps and on SIGTERM; `resumeFrom` continues exactly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .. import diffusion  # noqa: F401  (forces HF offline before diffusers loads)
from ..params import ParamReader
from ..protocol import Preempted, Preemption, Spec, progress, result

COMMAND = "pretrain-generator"


@dataclass(frozen=True)
class PretrainConfig:
    steps: int
    batch_size: int
    lr: float
    seed: int
    image_size: int
    model_size: str | dict[str, Any]  # a preset name, or a preset itself (diffusion/builtin.py)
    checkpoint_every: int
    cfg_dropout: float
    ema_decay: float
    warmup_steps: int
    weight_decay: float
    grad_clip: float
    hflip: bool
    caption_templates: tuple[str, ...]
    extra_words: tuple[str, ...]
    progress_every: int
    device: str

    @staticmethod
    def parse(spec: Spec) -> "PretrainConfig":
        from ..diffusion.builtin import PRESETS
        from ..diffusion.text import CAPTION_TEMPLATES

        p = ParamReader.of(spec)
        steps = p.at_least("steps", p.int("steps"), 1)
        model_size = p.raw("modelSize", "small")
        if isinstance(model_size, str):
            model_size = p.choice("modelSize", tuple(PRESETS), "small")
        elif not isinstance(model_size, dict):
            raise p.fail("modelSize", f"expected a size name ({'|'.join(PRESETS)}) or a preset object")
        cfg_dropout = p.float("cfgDropout", 0.1)
        if not 0.0 <= cfg_dropout < 1.0:
            raise p.fail("cfgDropout", f"must be in [0, 1), got {cfg_dropout}")
        image_size = p.int("imageSize", 32)
        if image_size % 8:
            raise p.fail("imageSize", f"must be a multiple of 8, got {image_size}")
        templates = p.strings("captionTemplates", tuple(CAPTION_TEMPLATES))
        if not templates or any("{}" not in t for t in templates):
            raise p.fail("captionTemplates", "must be a non-empty list of strings containing '{}'")
        return PretrainConfig(
            steps=steps,
            batch_size=p.at_least("batchSize", p.int("batchSize", 32), 1),
            lr=p.float("lr", 1e-3),
            seed=p.int("seed", 0),
            image_size=image_size,
            model_size=model_size,
            checkpoint_every=p.at_least("checkpointEvery", p.int("checkpointEvery", 500), 1),
            cfg_dropout=cfg_dropout,
            ema_decay=p.float("emaDecay", 0.999),
            warmup_steps=p.int("warmupSteps", min(200, steps // 10)),
            weight_decay=p.float("weightDecay", 0.0),
            grad_clip=p.float("gradClip", 1.0),
            hflip=p.bool("hflip", False),
            caption_templates=templates,
            extra_words=p.strings("extraWords", ()),
            progress_every=max(1, p.int("progressEvery", 10)),
            device=p.str("device", "auto"),
        )


def _caption(template: str, class_name: str) -> str:
    return template.replace("{}", class_name.replace("_", " "))


def run(spec: Spec, preemption: Preemption) -> None:
    import torch

    from ..diffusion.builtin import create_builtin
    from ..diffusion.model import KIND_BUILTIN, DiffusionModel
    from ..diffusion.train import EMA, Checkpoints, fingerprint, load_checkpoint, load_images
    from ..manifest import read_manifest
    from ..runtime import configure_determinism, seed_everything, select_device, step_generator

    cfg = PretrainConfig.parse(spec)
    steps, batch_size, seed, templates = cfg.steps, cfg.batch_size, cfg.seed, cfg.caption_templates
    manifest = read_manifest(spec.input("images"), "images")
    classes, items = manifest.classes, manifest.items
    images = load_images(manifest, cfg.image_size)
    labels = torch.tensor([classes.index(item["class"]) for item in items])

    configure_determinism("cuda")
    seed_everything(seed)
    device = select_device(cfg.device)
    words = [_caption("{}", c) for c in classes] + list(cfg.extra_words) + [_caption(t, "") for t in templates]
    unet, text_encoder, tokenizer, scheduler = create_builtin(cfg.model_size, cfg.image_size, extra_words=words)
    model = DiffusionModel(KIND_BUILTIN, unet, text_encoder, tokenizer, scheduler).to(device)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = cfg.warmup_steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, warmup)))
    ema = EMA(params, cfg.ema_decay) if cfg.ema_decay > 0 else None
    fp = fingerprint(COMMAND, spec.params)
    start = 0
    if spec.resume_from:
        state = load_checkpoint(spec.resume_from, COMMAND, fp)
        unet.load_state_dict(state["unet"])
        text_encoder.load_state_dict(state["text_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["torch_rng"])
        start = int(state["step"])

    data = images.to(device)
    checkpoints = Checkpoints(spec)

    def save(step: int) -> None:
        checkpoints.save({
            "command": COMMAND, "fingerprint": fp, "step": step,
            "unet": unet.state_dict(), "text_encoder": text_encoder.state_dict(),
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "ema": ema.state_dict() if ema is not None else None,
            "torch_rng": torch.get_rng_state(), "rng": {"scheme": "per-step", "seed": seed},
        }, step)

    unet.train()
    text_encoder.train()
    window: list[float] = []
    last_loss = float("nan")
    for step in range(start, steps):
        g = step_generator(seed, "pretrain", step)
        idx = torch.randint(0, len(items), (batch_size,), generator=g)
        tpl = torch.randint(0, len(templates), (batch_size,), generator=g)
        drop = torch.rand(batch_size, generator=g) < cfg.cfg_dropout
        flip = torch.rand(batch_size, generator=g) < 0.5
        captions = ["" if drop[b] else _caption(templates[int(tpl[b])], classes[int(labels[idx[b]])])
                    for b in range(batch_size)]
        batch = data[idx.to(device)]
        if cfg.hflip:
            batch = torch.where(flip.to(device)[:, None, None, None], batch.flip(-1), batch)
        latents = model.to_latents(batch)
        loss = model.denoise_loss(latents, model.encode_prompt(captions), g).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        schedule.step()
        if ema is not None:
            ema.update()
        window.append(float(loss.detach()))
        done = step + 1
        if done % cfg.progress_every == 0 or done == steps:
            last_loss = sum(window) / len(window)
            progress("train", done, steps, loss=round(last_loss, 6), lr=schedule.get_last_lr()[0], resumedFrom=start)
            window = []
        if done % cfg.checkpoint_every == 0 or preemption.requested:
            save(done)
            if preemption.requested:
                raise Preempted()

    if ema is not None:
        ema.copy_to()
    model_id = model.save_builtin(os.path.join(spec.work_dir, "model"), extra_index={
        "classes": classes,
        "trainedBy": {"command": COMMAND, "params": spec.params, "images": len(items)},
    })
    n_params = sum(p.numel() for p in unet.parameters())
    result({"model": "model"}, {
        "modelId": model_id, "steps": steps, "resumedFrom": start, "finalLoss": last_loss,
        "unetParams": n_params, "textEncoderParams": sum(p.numel() for p in text_encoder.parameters()),
        "classes": classes, "device": str(device),
    })
