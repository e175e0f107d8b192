"""Diffusion commands end to end on tiny models: real engine processes, real files.

pretrain-generator -> finetune-generator (DreamBooth, textual inversion) -> generate-images on the
built-in model, and the same commands on a tiny randomly initialised Stable-Diffusion-shaped folder.
"""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ENGINE)

from synthmix_engine.diffusion.toy import make_manifest  # noqa: E402

SIZE = 16  # tiny images keep the suite fast
ENV = {**os.environ, "PYTHONPATH": ENGINE, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def spec_file(tmp: str, name: str, params: dict, inputs: dict, resume: str | None = None) -> tuple[str, str]:
    work = os.path.join(tmp, name)
    path = os.path.join(tmp, f"{name}.spec.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"workDir": work, "resumeFrom": resume, "params": params, "inputs": inputs}, handle)
    return path, work


def engine(command: str, spec: str) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "synthmix_engine", command, "--spec", spec], cwd=ENGINE, env=ENV,
                          capture_output=True, text=True, timeout=600)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, events, proc.stderr


def ok(command: str, spec: str) -> list[dict]:
    code, events, stderr = engine(command, spec)
    assert code == 0, f"{command} exited {code}: {events[-1:]} {stderr[-2000:]}"
    assert events[-1]["event"] == "result"
    return events


def tensors(folder: str) -> dict[str, torch.Tensor]:
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    assert files, f"no weights in {folder}"
    out: dict[str, torch.Tensor] = {}
    for path in files:
        out.update(load_file(path))
    return out


def one_class(manifest: str, name: str, count: int, out: str) -> str:
    with open(manifest, encoding="utf-8") as handle:
        raw = json.load(handle)
    items = [item for item in raw["items"] if item["class"] == name][:count]
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"classes": [name], "items": items}, handle)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = str(tmp_path_factory.mktemp("diffusion"))
    manifest = make_manifest(os.path.join(tmp, "data"), per_class=4, size=SIZE, seed=1)
    cats = one_class(manifest, "cat", 3, os.path.join(tmp, "cats.json"))
    spec, work = spec_file(tmp, "pretrain", {
        "steps": 40, "batchSize": 16, "imageSize": SIZE, "modelSize": "tiny", "lr": 2e-3, "seed": 3,
        "checkpointEvery": 20, "progressEvery": 10, "emaDecay": 0.9,
    }, {"images": manifest})
    events = ok("pretrain-generator", spec)
    return {"tmp": tmp, "manifest": manifest, "cats": cats, "base": os.path.join(work, "model"), "events": events,
            "pretrain_work": work, "pretrain_spec": spec}


def finetune_params(method: str, **extra: object) -> dict:
    params = {"method": method, "className": "cat", "steps": 12, "batchSize": 2, "seed": 5, "checkpointEvery": 4,
              "progressEvery": 1}
    if method == "dreambooth":
        params.update({"priorPreservation": {"weight": 1.0, "numClassImages": 2}, "classImageSteps": 2})
    params.update(extra)
    return params


@pytest.fixture(scope="module")
def dreambooth(world: dict) -> dict:
    spec, work = spec_file(world["tmp"], "db", finetune_params("dreambooth"), {"base": world["base"], "instances": world["cats"]})
    events = ok("finetune-generator", spec)
    return {"adapter": os.path.join(work, "adapter"), "events": events, "spec": spec}


@pytest.fixture(scope="module")
def textual(world: dict) -> dict:
    spec, work = spec_file(world["tmp"], "ti", finetune_params("textual-inversion", steps=8),
                           {"base": world["base"], "instances": world["cats"]})
    events = ok("finetune-generator", spec)
    return {"adapter": os.path.join(work, "adapter"), "events": events}


def test_pretrain_loss_falls_and_writes_a_builtin_model(world: dict) -> None:
    losses = [e["loss"] for e in world["events"] if e["event"] == "progress"]
    assert len(losses) == 4
    assert losses[-1] < 0.8 * losses[0], losses
    index = json.load(open(os.path.join(world["base"], "model_index.json"), encoding="utf-8"))
    assert index["kind"] == "builtin" and index["modelId"].startswith("builtin-")
    for sub in ("unet", "text_encoder", "scheduler"):
        assert os.listdir(os.path.join(world["base"], sub))
    assert glob.glob(os.path.join(world["base"], "unet", "*.safetensors"))
    vocab = json.load(open(os.path.join(world["base"], "tokenizer", "vocab.json"), encoding="utf-8"))["tokens"]
    assert {"cat", "sks", "photo", "truck"} <= set(vocab)


def test_pretrain_resume_equals_uninterrupted(world: dict) -> None:
    with open(world["pretrain_spec"], encoding="utf-8") as handle:
        raw = json.load(handle)
    ckpt = os.path.join(world["pretrain_work"], "checkpoints", "step-0000020.pt")
    assert os.path.isfile(ckpt)
    spec, work = spec_file(world["tmp"], "pretrain-resumed", raw["params"], raw["inputs"], resume=ckpt)
    events = ok("pretrain-generator", spec)
    assert events[-1]["summary"]["resumedFrom"] == 20
    assert [e["step"] for e in events if e["event"] == "progress"] == [30, 40]
    for sub in ("unet", "text_encoder"):
        a, b = tensors(os.path.join(world["base"], sub)), tensors(os.path.join(work, "model", sub))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dreambooth_changes_the_unet(world: dict, dreambooth: dict) -> None:
    stages = [e.get("stage") for e in dreambooth["events"] if e["event"] == "progress"]
    assert "class-images" in stages and "finetune" in stages
    base, tuned = tensors(os.path.join(world["base"], "unet")), tensors(os.path.join(dreambooth["adapter"], "unet"))
    assert base.keys() == tuned.keys()
    changed = [k for k in base if not torch.equal(base[k], tuned[k])]
    assert len(changed) > len(base) // 2
    meta = json.load(open(os.path.join(dreambooth["adapter"], "adapter.json"), encoding="utf-8"))
    assert meta["method"] == "dreambooth" and meta["token"] == "sks" and meta["priorPreservation"]["numClassImages"] == 2
    assert not os.path.exists(os.path.join(dreambooth["adapter"], "text_encoder"))
    # No load path of the attempt in the saved config: the adapter's bytes depend on its inputs only.
    assert "_name_or_path" not in json.load(open(os.path.join(dreambooth["adapter"], "unet", "config.json"), encoding="utf-8"))


def test_textual_inversion_changes_only_the_new_row(world: dict, textual: dict, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # The adapter holds only the learned row...
    embeds = load_file(os.path.join(textual["adapter"], "learned_embeds.safetensors"))
    assert list(embeds) == ["<cat>"]
    from synthmix_engine.diffusion.model import DiffusionModel

    base = DiffusionModel.load(world["base"])
    init = base.word_embedding("cat", "test")
    assert embeds["<cat>"].shape == init.shape and not torch.equal(embeds["<cat>"], init)
    # ...and training touched nothing else: run the command in-process and inspect the trained model.
    import synthmix_engine.diffusion.adapter as adapter_mod
    from synthmix_engine.commands import finetune_generator
    from synthmix_engine.protocol import Preemption, Spec

    captured = {}
    real_write = adapter_mod.write_adapter

    def spy(folder, model, meta, **kwargs):
        captured["model"] = model
        return real_write(folder, model, meta, **kwargs)

    monkeypatch.setattr(adapter_mod, "write_adapter", spy)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        spec = Spec("finetune-generator", str(tmp_path), None, finetune_params("textual-inversion", steps=3),
                    {"base": world["base"], "instances": world["cats"]})
        finetune_generator.run(spec, Preemption())
    finally:
        signal.signal(signal.SIGTERM, previous)
    trained = captured["model"]
    new_id = trained.tokenizer.index["<cat>"]
    for name, module in (("unet", "unet"), ("text", "text_encoder")):
        before, after = getattr(base, module).state_dict(), getattr(trained, module).state_dict()
        assert before.keys() == after.keys(), name
        for key in before:
            a, b = before[key], after[key]
            if key == "token_embedding.weight":
                assert b.shape[0] == a.shape[0] + 1 == new_id + 1
                assert torch.equal(a, b[:-1]), "an old embedding row changed"
                assert not torch.equal(b[-1], init)
            else:
                assert torch.equal(a, b), f"{name}.{key} changed"


def read_records(work: str) -> list[dict]:
    with open(os.path.join(work, "images.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_generate_size_count_and_same_seed_same_bytes(world: dict) -> None:
    from PIL import Image

    params = {"source": "vanilla", "className": "dog", "indices": [0, 1, 2, 3, 4], "seed": 11, "steps": 4,
              "guidance": 2.0, "batchSize": 2, "imageSize": 24,
              "prompts": ["a photo of a {}", "How can you identify a {}?"]}
    spec, work = spec_file(world["tmp"], "gen-a", params, {"base": world["base"]})
    events = ok("generate-images", spec)
    files = sorted(os.listdir(os.path.join(work, "images")))
    assert files == [f"{i}.png" for i in range(5)]
    for name in files:
        with Image.open(os.path.join(work, "images", name)) as image:
            assert image.size == (24, 24) and image.mode == "RGB"
    artifacts = [e for e in events if e["event"] == "artifact"]
    assert [a["index"] for a in artifacts] == [0, 1, 2, 3, 4]
    assert artifacts[1]["prompt"] == "How can you identify a dog?"
    for a in artifacts:
        assert {"path", "prompt", "negativePrompt", "seed", "steps", "guidance", "modelId"} <= set(a)
        assert os.path.isfile(a["path"]) and a["modelId"].startswith("builtin-")
        assert 0 <= a["seed"] < 2 ** 53  # exact as a JavaScript number
    assert [r["index"] for r in read_records(work)] == [0, 1, 2, 3, 4]
    assert sum(1 for e in events if e["event"] == "progress") == 3
    # Same seed => same bytes, whatever batch an image lands in (a resumed activity asks for the rest).
    spec, work_b = spec_file(world["tmp"], "gen-b", {**params, "indices": [3, 1], "batchSize": 5}, {"base": world["base"]})
    ok("generate-images", spec)
    for i in (1, 3):
        a = open(os.path.join(work, "images", f"{i}.png"), "rb").read()
        b = open(os.path.join(work_b, "images", f"{i}.png"), "rb").read()
        assert a == b, f"image {i} differs"
    # Different indices => different images.
    assert open(os.path.join(work, "images", "0.png"), "rb").read() != open(os.path.join(work, "images", "2.png"), "rb").read()


@pytest.mark.parametrize("source", ["dreambooth", "textual"])
def test_generate_with_adapters(world: dict, dreambooth: dict, textual: dict, source: str) -> None:
    adapter = dreambooth["adapter"] if source == "dreambooth" else textual["adapter"]
    spec, work = spec_file(world["tmp"], f"gen-{source}", {"source": source, "className": "cat", "indices": [0, 7],
                                                              "steps": 3, "seed": 2}, {"base": world["base"], "adapter": adapter})
    events = ok("generate-images", spec)
    records = read_records(work)
    assert [r["index"] for r in records] == [0, 7]
    expected = "a photo of a sks cat" if source == "dreambooth" else "a photo of a <cat>"
    assert records[0]["prompt"] == expected
    assert "+" in events[-1]["summary"]["modelId"]


def test_finetune_resume_after_sigkill_equals_uninterrupted(world: dict, dreambooth: dict) -> None:
    with open(dreambooth["spec"], encoding="utf-8") as handle:
        raw = json.load(handle)
    spec, work = spec_file(world["tmp"], "db-killed", raw["params"], raw["inputs"])
    proc = subprocess.Popen([sys.executable, "-m", "synthmix_engine", "finetune-generator", "--spec", spec], cwd=ENGINE,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in proc.stdout:
            if json.loads(line).get("event") == "checkpoint":
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    ckpts = sorted(glob.glob(os.path.join(work, "checkpoints", "step-*.pt")))
    assert ckpts
    ckpt = ckpts[-1]
    step = int(os.path.basename(ckpt)[5:12])
    spec, resumed = spec_file(world["tmp"], "db-resumed", raw["params"], raw["inputs"], resume=ckpt)
    events = ok("finetune-generator", spec)
    assert events[-1]["summary"]["resumedFrom"] == step
    steps = [e["step"] for e in events if e["event"] == "progress" and e["stage"] == "finetune"]
    assert steps and steps[0] == step + 1
    assert not any(e.get("stage") == "class-images" for e in events if e["event"] == "progress")
    a = tensors(os.path.join(dreambooth["adapter"], "unet"))
    b = tensors(os.path.join(resumed, "adapter", "unet"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_writes_a_checkpoint_and_exits_143(world: dict) -> None:
    spec, work = spec_file(world["tmp"], "ti-term", finetune_params("textual-inversion", steps=100000, checkpointEvery=100000),
                           {"base": world["base"], "instances": world["cats"]})
    proc = subprocess.Popen([sys.executable, "-m", "synthmix_engine", "finetune-generator", "--spec", spec], cwd=ENGINE,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    events, sent = [], False
    for line in proc.stdout:
        events.append(json.loads(line))
        if not sent and events[-1].get("stage") == "finetune":
            proc.send_signal(signal.SIGTERM)
            sent = True
    assert proc.wait(timeout=60) == 143
    ckpt = [e for e in events if e["event"] == "checkpoint"]
    assert len(ckpt) == 1 and os.path.isfile(ckpt[0]["path"]) and ckpt[0]["step"] < 100000


def expect_permanent(command: str, spec: str, *needles: str) -> None:
    code, events, stderr = engine(command, spec)
    assert code == 3, f"{command} exited {code}: {events[-1:]} {stderr[-1000:]}"
    message = events[-1]["message"]
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "permanent"
    for needle in needles:
        assert needle in message, message


def test_bad_input_is_permanent_and_named(world: dict, tmp_path) -> None:
    missing = str(tmp_path / "no-such-model")
    spec, _ = spec_file(str(tmp_path), "missing-base", {"source": "vanilla", "className": "cat", "indices": [0]},
                        {"base": missing})
    expect_permanent("generate-images", spec, missing)
    spec, _ = spec_file(str(tmp_path), "bad-method", finetune_params("lora"), {"base": world["base"], "instances": world["cats"]})
    expect_permanent("finetune-generator", spec, "method", "lora")
    from PIL import Image

    odd = str(tmp_path / "odd.png")
    Image.new("RGB", (SIZE + 3, SIZE), (200, 10, 10)).save(odd)
    with open(tmp_path / "odd.json", "w", encoding="utf-8") as handle:
        json.dump({"classes": ["cat"], "items": [{"path": odd, "class": "cat", "sha256": "x"}]}, handle)
    spec, _ = spec_file(str(tmp_path), "odd-size", finetune_params("textual-inversion"),
                        {"base": world["base"], "instances": str(tmp_path / "odd.json")})
    expect_permanent("finetune-generator", spec, odd, f"{SIZE + 3}x{SIZE}")


# ---- Stable Diffusion path: the same commands on a tiny random SD-shaped folder -----------------------

def make_tiny_sd(folder: str) -> None:
    """diffusers layout (as SD v1-4): tiny UNet, AutoencoderKL, CLIP text model and a char-level CLIP BPE."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from tiny_models import TINY_CLIP_TEXT, save_tiny_clip_tokenizer

    torch.manual_seed(0)
    os.makedirs(folder, exist_ok=True)
    UNet2DConditionModel(
        sample_size=SIZE // 2, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=2, norm_num_groups=8).save_pretrained(os.path.join(folder, "unet"))
    AutoencoderKL(
        in_channels=3, out_channels=3, block_out_channels=(16, 32), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=8, layers_per_block=1,
    ).save_pretrained(os.path.join(folder, "vae"))
    CLIPTextModel(CLIPTextConfig(**TINY_CLIP_TEXT)).save_pretrained(os.path.join(folder, "text_encoder"))
    save_tiny_clip_tokenizer(os.path.join(folder, "tokenizer"))
    PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                  set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1).save_pretrained(os.path.join(folder, "scheduler"))
    with open(os.path.join(folder, "model_index.json"), "w", encoding="utf-8") as handle:
        json.dump({"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
                   "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                   "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                   "scheduler": ["diffusers", "PNDMScheduler"]}, handle)


def test_stable_diffusion_path_end_to_end(world: dict, tmp_path) -> None:
    pytest.importorskip("transformers")
    from PIL import Image

    sd = str(tmp_path / "tiny-sd")
    make_tiny_sd(sd)
    inputs = {"base": sd, "instances": world["cats"]}
    spec, db_work = spec_file(str(tmp_path), "sd-db", finetune_params("dreambooth", steps=3, trainTextEncoder=True), inputs)
    events = ok("finetune-generator", spec)
    assert events[-1]["summary"]["classImages"] == 2
    base, tuned = tensors(os.path.join(sd, "unet")), tensors(os.path.join(db_work, "adapter", "unet"))
    assert any(not torch.equal(base[k], tuned[k]) for k in base)
    assert os.path.isdir(os.path.join(db_work, "adapter", "text_encoder"))
    spec, ti_work = spec_file(str(tmp_path), "sd-ti", finetune_params("textual-inversion", steps=3), inputs)
    ok("finetune-generator", spec)
    assert list(load_file(os.path.join(ti_work, "adapter", "learned_embeds.safetensors"))) == ["<cat>"]
    for source, adapter in (("dreambooth", db_work), ("textual", ti_work)):  # (vanilla: the built-in tests)
        spec, work = spec_file(str(tmp_path), f"sd-gen-{source}", {
            "source": source, "className": "cat", "indices": [0, 1, 2], "steps": 2, "batchSize": 2, "imageSize": 12,
        }, {"base": sd, **({"adapter": os.path.join(adapter, "adapter")} if adapter else {})})
        events = ok("generate-images", spec)
        assert events[-1]["summary"]["modelId"].startswith("stable-diffusion-")
        for i in range(3):
            with Image.open(os.path.join(work, "images", f"{i}.png")) as image:
                assert image.size == (12, 12) and image.mode == "RGB"
