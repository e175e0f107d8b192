"""`generate-images`: synthetic images of one class from a (personalised) generator.

inputs:  base      model folder (built-in or Stable Diffusion)
         adapter   (optional; required for dreambooth/textual) folder from `finetune-generator`
params:  source ("vanilla" | "dreambooth" | "textual", required), className (required),
         indices (list of ints, required: which images to make; the caller passes only those not
           yet stored, so a resumed activity never regenerates stored images),
         prompts (["a photo of a {}"]; prompt of image i = prompts[i % len]; "{}" becomes the class
           phrase of the source: className | "token className" (DreamBooth) | token (textual); on the
           built-in model, words outside its vocabulary are read as <unk> and listed in
           summary.unknownWords),
         negativePrompt (""), seed (0; image i's noise comes from a generator seeded by (seed, className, i), so
           image i is the same whatever batch it lands in), steps (20 DDIM steps), guidance (3.0
           built-in / 7.5 SD; 1 = no classifier-free guidance), batchSize (32), imageSize (the size
           of the written PNGs; default: as sampled — the sweep stores them so and normalizes them
           to the dataset's size as it does curated originals), resolution (sampling size; default
           the model's native size), scheduler (ddim | lms | euler | dpm++2m | pndm; default the
           folder's own, see diffusion/schedulers.py), precision ("auto": fp16 for SD on CUDA, else fp32 | "fp32" |
           "fp16" | "bf16"), device ("auto").
outputs: images    folder of <i>.png (RGB, imageSize x imageSize)
         records   images.jsonl, one record per image: index, path, prompt, negativePrompt, seed
                   (the image's own seed), baseSeed, steps, guidance, modelId, source, className.
After each batch an `artifact` event per image carries the same record (the runner uploads it
at once); progress per batch (stage "generate"). On SIGTERM it stops after the current batch
(exit 143): every finished image has already been reported.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

from .. import diffusion  # noqa: F401  (forces HF offline before diffusers loads)
from ..diffusion.schedulers import NAMES
from ..params import ParamReader
from ..protocol import PermanentError, Preempted, Preemption, Spec, artifact_written, progress, result

COMMAND = "generate-images"
SOURCES = {"vanilla": None, "dreambooth": "dreambooth", "textual": "textual-inversion"}
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class GenerateConfig:
    """None in a field means "the default for the base model", known once it is loaded."""

    source: str
    class_name: str
    indices: tuple[int, ...]
    prompts: tuple[str, ...]
    negative_prompt: str
    seed: int
    steps: int
    guidance: float | None  # 3.0 built-in / 7.5 SD
    batch_size: int
    image_size: int | None  # the resolution
    resolution: int | None  # the model's
    precision: str
    device: str
    scheduler: str | None  # the folder's

    @staticmethod
    def parse(spec: Spec) -> "GenerateConfig":
        p = ParamReader.of(spec)
        indices = p.raw("indices")
        if not isinstance(indices, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indices):
            raise p.fail("indices", "must be a list of non-negative integers")
        if len(set(indices)) != len(indices):
            raise p.fail("indices", "has duplicates")
        prompts = p.raw("prompts", ["a photo of a {}"])
        if isinstance(prompts, str):
            prompts = [prompts]
        if not isinstance(prompts, list) or not prompts or not all(isinstance(t, str) and t for t in prompts):
            raise p.fail("prompts", "must be a non-empty list of non-empty strings")
        return GenerateConfig(
            source=p.choice("source", tuple(SOURCES)),
            class_name=p.str("className"),
            indices=tuple(indices),
            prompts=tuple(prompts),
            negative_prompt=p.str("negativePrompt", ""),
            seed=p.int("seed", 0),
            steps=p.at_least("steps", p.int("steps", 20), 1),
            guidance=p.float("guidance", None),
            batch_size=p.at_least("batchSize", p.int("batchSize", 32), 1),
            image_size=p.at_least("imageSize", p.int("imageSize", None), 1),
            resolution=p.at_least("resolution", p.int("resolution", None), 8),
            precision=p.choice("precision", PRECISIONS, "auto"),
            device=p.str("device", "auto"),
            scheduler=p.choice("scheduler", NAMES, None),
        )


def run(spec: Spec, preemption: Preemption) -> None:
    import torch

    from ..diffusion.adapter import apply_adapter, read_adapter
    from ..diffusion.model import KIND_BUILTIN, DiffusionModel, to_pil
    from ..runtime import configure_determinism, image_seed, seed_everything, select_device

    cfg = GenerateConfig.parse(spec)
    source, class_name, indices, prompts, negative = cfg.source, cfg.class_name, list(cfg.indices), cfg.prompts, cfg.negative_prompt
    seed, steps, batch_size = cfg.seed, cfg.steps, cfg.batch_size

    configure_determinism("cuda")
    seed_everything(seed)
    device = select_device(cfg.device)
    base = spec.input("base")
    adapter_dir = spec.inputs.get("adapter")
    meta = None
    if SOURCES[source] is not None:
        if not adapter_dir:
            raise PermanentError(f"source {source!r} needs the input 'adapter' (a finetune-generator output)")
        meta = read_adapter(adapter_dir)
        if meta["method"] != SOURCES[source]:
            raise PermanentError(f"input 'adapter': {adapter_dir} is a {meta['method']} adapter, source {source!r} needs {SOURCES[source]}")
        if meta.get("className") != class_name:
            raise PermanentError(f"input 'adapter': {adapter_dir} was trained for class {meta.get('className')!r}, not {class_name!r}")
    elif adapter_dir:
        raise PermanentError("source 'vanilla' takes no input 'adapter'")

    model = DiffusionModel.load(base, "cpu", what="base")
    builtin = model.kind == KIND_BUILTIN
    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if cfg.precision == "auto":
        dtype = torch.float16 if (device.type == "cuda" and not builtin) else torch.float32
    else:
        dtype = dtypes[cfg.precision]
    model.to(device, dtype)
    for module in model.modules():
        module.eval()
        module.requires_grad_(False)
    model_id = model.model_id
    phrase = class_name.replace("_", " ")
    if meta is not None:
        apply_adapter(model, adapter_dir, meta)
        model_id = f"{model.model_id}+{meta['adapterId']}"
        phrase = f"{meta['token']} {phrase}" if meta["method"] == "dreambooth" else meta["token"]
    guidance = cfg.guidance if cfg.guidance is not None else (3.0 if builtin else 7.5)
    resolution = cfg.resolution or model.resolution
    image_size = cfg.image_size or resolution
    model.latent_shape(resolution)  # a size the VAE cannot take is bad input before any work
    scheduler = cfg.scheduler or model.default_scheduler
    full_prompts = [p.replace("{}", phrase) for p in prompts]
    unknown = sorted({w for text in full_prompts + [negative] for w in model.tokenizer.unknown_words(text)})
    if unknown:  # the built-in vocabulary is small: such words become <unk>; say so, do not fail
        sys.stderr.write(f"generate-images: words not in the model's vocabulary (read as <unk>): {unknown}\n")

    out_dir = os.path.join(spec.work_dir, "images")
    os.makedirs(out_dir, exist_ok=True)
    records_path = os.path.join(spec.work_dir, "images.jsonl")
    started = time.perf_counter()
    done = 0
    with open(records_path, "w", encoding="utf-8") as records:
        for first in range(0, len(indices), batch_size):
            chunk = indices[first:first + batch_size]
            batch_prompts = [full_prompts[i % len(full_prompts)] for i in chunk]
            seeds = [image_seed(seed, class_name, i) for i in chunk]
            images = model.sample(batch_prompts, seeds, steps, guidance, negative, resolution, scheduler)
            batch_records = []
            for i, prompt, image_seed_i, image in zip(chunk, batch_prompts, seeds, images):
                path = os.path.join(out_dir, f"{i}.png")
                to_pil(image, image_size).save(path, format="PNG")
                record = {"index": i, "path": os.path.relpath(path, spec.work_dir), "prompt": prompt,
                          "negativePrompt": negative, "seed": image_seed_i, "baseSeed": seed, "steps": steps,
                          "guidance": guidance, "modelId": model_id, "source": source, "className": class_name,
                          "width": image_size, "height": image_size, "resolution": resolution,
                          "scheduler": scheduler}
                records.write(json.dumps(record, sort_keys=True) + "\n")
                batch_records.append(record)
            records.flush()
            for record in batch_records:
                artifact_written(**{**record, "path": os.path.join(spec.work_dir, record["path"])})
            done += len(chunk)
            elapsed = time.perf_counter() - started
            progress("generate", done, len(indices), imagesPerSecond=round(done / max(elapsed, 1e-9), 3))
            if preemption.requested and done < len(indices):
                raise Preempted()
    elapsed = time.perf_counter() - started
    result({"images": "images", "records": "images.jsonl"}, {
        "count": done, "modelId": model_id, "source": source, "className": class_name, "steps": steps,
        "guidance": guidance, "imageSize": image_size, "resolution": resolution, "scheduler": scheduler, "device": str(device),
        "seconds": round(elapsed, 3), "imagesPerSecond": round(done / max(elapsed, 1e-9), 3), "unknownWords": unknown,
    })
