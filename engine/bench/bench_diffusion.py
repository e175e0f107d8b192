"""Benchmark of the built-in diffusion generator at the demo preset (prints figures, asserts nothing).

  cd engine && ../.synthmix/venv/bin/python bench/bench_diffusion.py [--steps 10] [--guidance 2] [--batch 32]
      [--images 96] [--model-size small] [--db-steps 60] [--ti-steps 100] [--class-images 16] [--model DIR]

Measures, in this process (the engine's own command code, events discarded):
  - generate-images: images/s at 32x32, DDIM `--steps`, classifier-free guidance `--guidance`, batch `--batch`;
  - finetune-generator: wall time of one DreamBooth (with prior preservation: `--class-images` class
    images generated first) and one textual-inversion fine-tune of one class;
  - the demo estimate: 3 sources x 10 classes x 50 images + 10 x (DreamBooth + textual inversion).
Without --model it times a freshly initialised model of --model-size (speed does not depend on the weights).
CPU seconds are printed next to wall seconds: on a shared machine wall time inflates, CPU time much less.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time

ENGINE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ENGINE)

from synthmix_engine import diffusion  # noqa: E402,F401
from synthmix_engine import protocol  # noqa: E402


def timed(fn):  # -> (result, wall s, cpu s)
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def run_command(module, work: str, params: dict, inputs: dict) -> dict:
    sink = io.StringIO()
    real = protocol._real_stdout
    protocol._real_stdout = sink
    try:
        module.run(protocol.Spec(module.COMMAND, work, None, params, inputs), protocol.Preemption())
    finally:
        protocol._real_stdout = real
    events = [json.loads(line) for line in sink.getvalue().splitlines()]
    return events[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--guidance", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--model-size", default="small")
    parser.add_argument("--db-steps", type=int, default=60)
    parser.add_argument("--ti-steps", type=int, default=100)
    parser.add_argument("--class-images", type=int, default=16)
    parser.add_argument("--model", default=None, help="a built-in model folder (default: fresh --model-size)")
    args = parser.parse_args()

    import torch

    from synthmix_engine.commands import finetune_generator, generate_images
    from synthmix_engine.diffusion.builtin import create_builtin
    from synthmix_engine.diffusion.model import KIND_BUILTIN, DiffusionModel
    from synthmix_engine.diffusion.toy import make_manifest

    tmp = tempfile.mkdtemp(prefix="bench-diffusion-")
    model_dir = args.model
    if model_dir is None:
        torch.manual_seed(0)
        model_dir = os.path.join(tmp, "model")
        DiffusionModel(KIND_BUILTIN, *create_builtin(args.model_size, 32)).save_builtin(model_dir)
    unet_params = sum(p.numel() for p in DiffusionModel.load(model_dir).unet.parameters())
    manifest = make_manifest(os.path.join(tmp, "data"), per_class=5, size=32, seed=0, classes=["cat"])
    print(f"device cpu, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
          f"UNet {unet_params / 1e6:.2f}M params ({args.model_size if args.model is None else args.model})")

    gen_params = {"source": "vanilla", "className": "cat", "indices": list(range(args.images)), "steps": args.steps,
                  "guidance": args.guidance, "batchSize": args.batch, "seed": 0}
    run_command(generate_images, os.path.join(tmp, "warm"), {**gen_params, "indices": [0, 1]}, {"base": model_dir})
    _, wall, cpu = timed(lambda: run_command(generate_images, os.path.join(tmp, "gen"), gen_params, {"base": model_dir}))
    ips = args.images / wall
    print(f"generate-images: {args.images} images, {args.steps} DDIM steps, guidance {args.guidance}, batch {args.batch}: "
          f"{ips:.1f} images/s ({wall:.1f} s wall, {cpu:.1f} s CPU)")

    ft = {"className": "cat", "batchSize": 4, "seed": 0, "checkpointEvery": 10 ** 6}
    db = {**ft, "method": "dreambooth", "steps": args.db_steps,
          "priorPreservation": {"weight": 1.0, "numClassImages": args.class_images},
          "classImageSteps": args.steps, "classImageGuidance": args.guidance}
    _, db_wall, db_cpu = timed(lambda: run_command(finetune_generator, os.path.join(tmp, "db"), db,
                                                   {"base": model_dir, "instances": manifest}))
    print(f"finetune-generator dreambooth: {args.db_steps} steps x (4 instance + 4 class) images, "
          f"{args.class_images} class images: {db_wall:.1f} s wall ({db_cpu:.1f} s CPU) per class")
    ti = {**ft, "method": "textual-inversion", "steps": args.ti_steps}
    _, ti_wall, ti_cpu = timed(lambda: run_command(finetune_generator, os.path.join(tmp, "ti"), ti,
                                                   {"base": model_dir, "instances": manifest}))
    print(f"finetune-generator textual-inversion: {args.ti_steps} steps x 4 images: "
          f"{ti_wall:.1f} s wall ({ti_cpu:.1f} s CPU) per class")
    total = 1500 / ips + 10 * (db_wall + ti_wall)
    print(f"demo estimate (1500 images + 10 DreamBooth + 10 textual inversion, no process start-up): {total:.0f} s")


if __name__ == "__main__":
    main()
