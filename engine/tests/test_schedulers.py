"""Samplers by name against diffusers' own StableDiffusionPipeline (the oracle, run here at test time).

On a tiny random SD-shaped folder (test_diffusion.make_tiny_sd, native 16 px) sampled at 24 px — a
resolution that is neither the model's nor the dataset's (12 px) — our denoising loop with each named
scheduler gives the pipeline's latents (same scheduler class from the folder's config, steps, guidance,
prompts and initial latents) within 1e-4; and `generate-images` writes images at the sampling
resolution with that size and the scheduler recorded (the sweep normalizes them to the dataset's size).
"""
from __future__ import annotations

import json
import os
import sys

import pytest
import torch

ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ENGINE)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synthmix_engine.diffusion.model import DiffusionModel  # noqa: E402
from synthmix_engine.diffusion.schedulers import NAMES, SCHEDULERS, default_scheduler  # noqa: E402
from synthmix_engine.runtime import cpu_generator  # noqa: E402
from test_diffusion import make_tiny_sd, ok, spec_file  # noqa: E402

RESOLUTION = 24  # native 16; the dataset in the sweep test is 12
STEPS = 3
GUIDANCE = 7.5
PROMPTS = ["a photo of a cat", "a dog"]
SEEDS = [3, 11]


@pytest.fixture(scope="module")
def sd(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = str(tmp_path_factory.mktemp("sched") / "tiny-sd")
    make_tiny_sd(folder)
    return folder


@pytest.fixture(scope="module")
def model(sd: str) -> DiffusionModel:
    loaded = DiffusionModel.load(sd, "cpu")
    for module in loaded.modules():
        module.eval()
    return loaded


@pytest.fixture(scope="module")
def parts(sd: str) -> dict:
    """The folder loaded once by diffusers itself (each test builds its pipeline around these)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(sd, safety_checker=None, feature_extractor=None,
                                                   requires_safety_checker=False, local_files_only=True)
    return {name: getattr(pipe, name) for name in ("vae", "text_encoder", "tokenizer", "unet")}


def pipeline_latents(sd: str, parts: dict, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    import diffusers
    from diffusers import StableDiffusionPipeline

    # The scheduler class from the folder's config, handed to the pipeline's constructor (which
    # applies its own latent settings, as it does for any folder).
    scheduler = getattr(diffusers, SCHEDULERS[name]).from_pretrained(os.path.join(sd, "scheduler"), local_files_only=True)
    pipe = StableDiffusionPipeline(**parts, scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    noise = torch.stack([torch.randn(shape, generator=cpu_generator(s), dtype=torch.float32) for s in SEEDS])
    with torch.no_grad():
        return pipe(prompt=PROMPTS, height=RESOLUTION, width=RESOLUTION, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                    latents=noise, output_type="latent").images


@pytest.mark.parametrize("name", NAMES)
def test_sampler_equals_the_diffusers_pipeline(sd: str, parts: dict, model: DiffusionModel, name: str) -> None:
    ours = model.sample_latents(PROMPTS, SEEDS, STEPS, GUIDANCE, "", RESOLUTION, name)
    theirs = pipeline_latents(sd, parts, name, model.latent_shape(RESOLUTION))
    assert ours.shape == theirs.shape == (2, 4, RESOLUTION // 2, RESOLUTION // 2)
    assert torch.isfinite(ours).all()
    assert (ours - theirs).abs().max().item() <= 1e-4


def test_samplers_differ_and_default_is_the_folders(model: DiffusionModel) -> None:
    # The check above could pass with one loop for all names; they must really be different samplers.
    outs = {name: model.sample_latents(PROMPTS[:1], SEEDS[:1], STEPS, GUIDANCE, "", RESOLUTION, name) for name in NAMES}
    for a in NAMES:
        for b in NAMES:
            if a < b:
                assert (outs[a] - outs[b]).abs().max().item() > 1e-3, (a, b)
    assert model.scheduler_class == "PNDMScheduler" and model.default_scheduler == "pndm"
    assert default_scheduler("DDPMScheduler") == "ddim"  # the built-in model's training scheduler


def test_generate_writes_the_sampling_resolution_and_records_it(sd: str, tmp_path) -> None:
    from PIL import Image

    spec, work = spec_file(str(tmp_path), "gen", {
        "source": "vanilla", "className": "cat", "indices": [0, 1], "steps": 2, "batchSize": 2,
        "resolution": RESOLUTION, "scheduler": "lms",
    }, {"base": sd})
    events = ok("generate-images", spec)
    summary = events[-1]["summary"]
    assert summary["resolution"] == RESOLUTION and summary["imageSize"] == RESOLUTION and summary["scheduler"] == "lms"
    with open(os.path.join(work, "images.jsonl"), encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    for record in records:
        assert (record["width"], record["height"], record["resolution"], record["scheduler"]) == (RESOLUTION, RESOLUTION, RESOLUTION, "lms")
        with Image.open(os.path.join(work, record["path"])) as image:
            assert image.size == (RESOLUTION, RESOLUTION)


def test_unknown_scheduler_and_bad_resolution_are_permanent_and_named(sd: str, tmp_path) -> None:
    from test_diffusion import expect_permanent

    spec, _ = spec_file(str(tmp_path), "bad-sched", {"source": "vanilla", "className": "cat", "indices": [0], "scheduler": "heun"}, {"base": sd})
    expect_permanent("generate-images", spec, "params.scheduler", "heun")
    spec, _ = spec_file(str(tmp_path), "bad-res", {"source": "vanilla", "className": "cat", "indices": [0], "resolution": 25}, {"base": sd})
    expect_permanent("generate-images", spec, "resolution 25")


def test_finetune_trains_at_the_generator_resolution_from_dataset_sized_instances(sd: str, tmp_path) -> None:
    from synthmix_engine.diffusion.toy import make_manifest
    from test_diffusion import one_class

    # Instances curated at the classifier's size (12 px); the generator trains at 24 (native 16).
    manifest = make_manifest(str(tmp_path / "data"), per_class=2, size=12, seed=1)
    cats = one_class(manifest, "cat", 2, str(tmp_path / "cats.json"))
    spec, work = spec_file(str(tmp_path), "db", {
        "method": "dreambooth", "className": "cat", "steps": 1, "batchSize": 2, "seed": 5, "resolution": RESOLUTION,
        "scheduler": "euler", "priorPreservation": {"weight": 1.0, "numClassImages": 1}, "classImageSteps": 2,
    }, {"base": sd, "instances": cats})
    summary = ok("finetune-generator", spec)[-1]["summary"]
    assert (summary["resolution"], summary["scheduler"], summary["classImages"]) == (RESOLUTION, "euler", 1)
    assert os.path.isdir(os.path.join(work, "adapter", "unet"))
