"""The engine's shared core: typed configs, the command registry, the runtime (devices, hashing)
and the manifest reader."""
from __future__ import annotations

import hashlib
import io
import json
import signal
from pathlib import Path

import pytest
import torch

from synthmix_engine.commands import registry
from synthmix_engine.manifest import read_item, read_manifest
from synthmix_engine.protocol import EXIT_PERMANENT, PermanentError, Spec
from synthmix_engine.runtime import select_device, sha256_file, sha256_files


def _spec(params: dict) -> Spec:
    return Spec("test", "/nonexistent-work-dir", None, params, {})


def _config(name: str):
    from synthmix_engine.commands.extract_features import ExtractFeaturesConfig
    from synthmix_engine.commands.fid_table import FidTableConfig
    from synthmix_engine.commands.finetune_generator import FinetuneConfig
    from synthmix_engine.commands.generate_images import GenerateConfig
    from synthmix_engine.commands.pretrain_generator import PretrainConfig

    return {"pretrain": PretrainConfig, "finetune": FinetuneConfig, "generate": GenerateConfig,
            "extract": ExtractFeaturesConfig, "fid": FidTableConfig}[name]


GENERATE = {"source": "vanilla", "className": "cat", "indices": [0, 1]}


@pytest.mark.parametrize("config,params,message", [
    ("pretrain", {"steps": "40"}, "params.steps: expected int, got str '40'"),
    ("pretrain", {}, "params.steps: required"),
    ("pretrain", {"steps": 40, "lr": "fast"}, "params.lr: expected float, got str"),
    ("pretrain", {"steps": 40, "hflip": 1}, "params.hflip: expected bool, got int"),
    ("pretrain", {"steps": 40, "batchSize": 2.5}, "params.batchSize: expected int, got float"),
    ("pretrain", {"steps": 40, "captionTemplates": "a {}"}, "params.captionTemplates: expected list of str"),
    ("finetune", {"method": "dreambooth", "className": "cat", "priorPreservation": {"numClassImages": "2"}},
     "params.priorPreservation.numClassImages: expected int, got str"),
    ("finetune", {"method": "lora", "className": "cat"}, "params.method: 'lora' is not one of"),
    ("finetune", {"method": "dreambooth", "className": 7}, "params.className: expected str, got int"),
    ("generate", {**GENERATE, "guidance": "high"}, "params.guidance: expected float, got str"),
    ("generate", {**GENERATE, "steps": 0}, "params.steps: must be >= 1, got 0"),
    ("generate", {**GENERATE, "indices": [0, "1"]}, "params.indices: must be a list of non-negative integers"),
    ("extract", {"extractor": "inception-v3-fid", "checkpointEvery": "often"}, "params.checkpointEvery: expected int"),
    ("extract", {"extractor": "random-conv-v1"}, "params.extractor: 'random-conv-v1' is not one of"),
    ("fid", {"eps": True}, "params.eps: expected float, got bool"),
])
def test_a_mistyped_param_is_permanent_and_names_the_field(config: str, params: dict, message: str) -> None:
    with pytest.raises(PermanentError) as info:
        _config(config).parse(_spec(params))
    assert message in str(info.value), str(info.value)


def test_configs_take_the_documented_defaults() -> None:
    pretrain = _config("pretrain").parse(_spec({"steps": 40, "lr": 1, "seed": 3.0}))
    assert (pretrain.batch_size, pretrain.warmup_steps, pretrain.checkpoint_every, pretrain.model_size) == (32, 4, 500, "small")
    assert pretrain.lr == 1.0 and isinstance(pretrain.lr, float) and pretrain.seed == 3 and isinstance(pretrain.seed, int)
    finetune = _config("finetune").parse(_spec({"method": "dreambooth", "className": "tabby_cat", "priorPreservation": None}))
    assert (finetune.token, finetune.initializer_token, finetune.steps, finetune.num_class_images) == ("sks", "tabby cat", 60, 0)
    assert finetune.lr is None and finetune.mixed_precision is None  # known once the base model is loaded
    textual = _config("finetune").parse(_spec({"method": "textual-inversion", "className": "cat"}))
    assert (textual.token, textual.steps) == ("<cat>", 100)
    on = _config("finetune").parse(_spec({"method": "dreambooth", "className": "cat"}))
    assert (on.prior_weight, on.num_class_images) == (1.0, 16)
    generate = _config("generate").parse(_spec({**GENERATE, "prompts": "a {}", "negativePrompt": None}))
    assert generate.prompts == ("a {}",) and generate.negative_prompt == "" and generate.precision == "auto"


def test_cuda_asked_for_without_cuda_is_permanent_and_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("cuda", "cuda:1", " CUDA "):
        with pytest.raises(PermanentError, match=r"params\.device: .*no CUDA device"):
            select_device(name)
    assert select_device("auto") == torch.device("cpu") and select_device(None) == torch.device("cpu")
    assert select_device("cpu") == torch.device("cpu")
    for bad in ("tpu", "meta", 3):
        with pytest.raises(PermanentError, match=r"params\.device"):
            select_device(bad)


def test_the_registry_names_a_command_module_that_cannot_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import synthmix_engine.commands as commands_package
    from synthmix_engine.__main__ import main

    (tmp_path / "broken_command.py").write_text("import no_such_dependency_xyz\n\ndef run(spec, preemption):\n    pass\n")
    monkeypatch.setattr(commands_package, "__path__", [*commands_package.__path__, str(tmp_path)])
    monkeypatch.setitem(registry.COMMANDS, "broken", "broken_command")
    with pytest.raises(registry.CommandImportError) as info:
        registry.load_command("broken")
    assert isinstance(info.value, PermanentError)
    assert "synthmix_engine.commands.broken_command" in str(info.value) and "no_such_dependency_xyz" in str(info.value)

    # The engine lists the command and exits 3 naming the module, instead of hiding it.
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"workDir": str(tmp_path / "work"), "params": {}}))
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert main(["broken", "--spec", str(spec)]) == EXIT_PERMANENT
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_every_registered_command_imports() -> None:
    for name in registry.COMMANDS:
        assert callable(registry.load_command(name).run)


def test_file_hashes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"x" * 3_000_000)
    b.write_bytes(b"tail")
    assert sha256_file(str(a)) == hashlib.sha256(a.read_bytes()).hexdigest()
    assert sha256_files([str(a), str(b)]) == hashlib.sha256(a.read_bytes() + b.read_bytes()).hexdigest()
    with pytest.raises(OSError):
        sha256_file(str(tmp_path / "gone.pt"))
    with pytest.raises(PermanentError, match=r"cannot read weights file .*gone\.pt"):
        sha256_file(str(tmp_path / "gone.pt"), "weights file")


def test_the_manifest_reader(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(b"a")
    sha = hashlib.sha256(b"a").hexdigest()
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"items": [{"path": "imgs/a.png", "class": "dog", "sha256": sha},
                                          {"path": str(tmp_path / "imgs" / "a.png"), "class": "cat"}]}))
    manifest = read_manifest(str(path), "images")
    assert manifest.classes == ["cat", "dog"]  # absent: the sorted class names
    assert manifest.files == [str(tmp_path / "imgs" / "a.png")] * 2  # relative to the manifest's folder
    assert read_item(manifest, 0) == (b"a", sha)

    path.write_text(json.dumps({"classes": ["cat"], "items": [{"path": "imgs/a.png", "class": "dog"}]}))
    with pytest.raises(PermanentError, match=r"input 'train': manifest .*m\.json: file .*a\.png has class 'dog'"):
        read_manifest(str(path), "train")
    assert read_manifest(str(path), "images", labelled=False).classes == []
    path.write_text(json.dumps({"classes": ["cat"], "items": [{"path": "imgs/a.png", "class": "cat", "sha256": "0" * 64}]}))
    with pytest.raises(PermanentError, match=r"a\.png has sha256 .*the manifest says 0000"):
        read_item(read_manifest(str(path), "images"), 0)
    path.write_text("{not json")
    with pytest.raises(PermanentError, match=r"input 'images': manifest .*m\.json is not valid JSON"):
        read_manifest(str(path), "images")


def _bomb_png(path: Path, side: int = 20_000) -> Path:
    """A tiny PNG whose header declares side x side pixels: PIL refuses it as a decompression bomb."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    from synthmix_engine.classifier.data import load_dataset

    bomb = _bomb_png(tmp_path / "bomb.png")
    manifest = tmp_path / "bomb.json"
    manifest.write_text(json.dumps({"classes": ["red"], "items": [{"path": str(bomb), "class": "red"}]}))
    with pytest.raises(PermanentError, match=r"cannot decode image file .*bomb\.png: DecompressionBombError"):
        load_dataset(str(manifest), 16, str(tmp_path / "cache"))


def test_an_image_error_that_escapes_a_command_exits_permanent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decode error a command does not catch itself is still bad input (exit 3), never a retried crash."""
    import synthmix_engine.commands as commands_package
    from synthmix_engine.__main__ import main

    bomb = _bomb_png(tmp_path / "bomb.png")
    (tmp_path / "opens_an_image.py").write_text(
        "from PIL import Image\n\ndef run(spec, preemption):\n    Image.open(spec.input('image'))\n"
    )
    monkeypatch.setattr(commands_package, "__path__", [*commands_package.__path__, str(tmp_path)])
    monkeypatch.setitem(registry.COMMANDS, "opens-an-image", "opens_an_image")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"workDir": str(tmp_path / "work"), "params": {}, "inputs": {"image": str(bomb)}}))
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert main(["opens-an-image", "--spec", str(spec)]) == EXIT_PERMANENT
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize(
    ("raises", "expected"),
    [
        ("raise ValueError('a shape that never fits')", "permanent"),
        ("raise KeyError('missing')", "permanent"),
        ("raise RuntimeError('mat1 and mat2 shapes cannot be multiplied')", "permanent"),
        ("raise OSError(28, 'No space left on device')", "transient"),
        ("raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB')", "transient"),
        ("raise MemoryError()", "transient"),
    ],
)
def test_an_unclassified_exception_is_retried_only_when_the_machine_caused_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raises: str, expected: str
) -> None:
    """Issue 14 point 10: an exception no command classified is not retried 10 times unless a retry can help."""
    import synthmix_engine.commands as commands_package
    from synthmix_engine.__main__ import main
    from synthmix_engine import protocol
    from synthmix_engine.protocol import EXIT_TRANSIENT

    events_out = io.StringIO()
    monkeypatch.setattr(protocol, "_real_stdout", events_out)

    # One module name per case: a module imported once stays in sys.modules.
    module = f"raises_{hashlib.sha256(raises.encode()).hexdigest()[:12]}"
    (tmp_path / f"{module}.py").write_text(f"def run(spec, preemption):\n    {raises}\n")
    monkeypatch.setattr(commands_package, "__path__", [*commands_package.__path__, str(tmp_path)])
    monkeypatch.setitem(registry.COMMANDS, "raises-something", module)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"workDir": str(tmp_path / "work"), "params": {}, "inputs": {}}))
    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = main(["raises-something", "--spec", str(spec)])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == (EXIT_PERMANENT if expected == "permanent" else EXIT_TRANSIENT)
    events = [json.loads(line) for line in events_out.getvalue().splitlines() if line.startswith("{")]
    assert events[-1]["kind"] == expected
    # The failure names what was raised.
    named = raises.split("(")[0].removeprefix("raise ")
    assert named in events[-1]["message"] or (named == "MemoryError" and "out of memory" in events[-1]["message"])
