"""`fid-table`: FID (+ KID) per comparison, e.g. paper Table 1 per class and overall.

inputs:  groups — JSON file:
           {"groups": {NAME: {"features": [npy paths], "rows": [int]?}},
            "comparisons": [{"name": "vanilla/cat", "reference": NAME, "candidate": NAME}],
            "kid": {"subsets": 100, "subsetSize": 1000, "seed": 0, "level": 0.95} | false,
            "bootstrap": {"resamples": 200, "seed": 0, "level": 0.95} | false (absent: none),
            "extractor": {"id": str, "weightsSha256": str}}
           A features path is the name of another spec input, an absolute path, or a path relative
           to the groups file. "rows" selects rows of the files' concatenation (default: all).
           A `x.json` beside `x.npy` (extract-features' meta) must name the same extractor.
params:  eps (default 1e-6: the εI guard of the Fréchet distance), device ("auto": KID on CUDA
         when present), chunkRows (default 4096: rows per streaming-statistics batch)
outputs: fid  fid.json — list of rows {name, reference, candidate, fid, kidMean, kidStd,
              kidSubsetSize, kidSubsetCapped, kidLow, kidHigh, kidLevel, n1, n2, epsilonUsed,
              extractorId, weightsSha256, fidLow, fidHigh, fidBias, fidLevel, fidResamples}
              (kidSubsetCapped: the requested subsetSize did not fit the smaller set and was
              capped to half of it, see fid/kid.py, which also gives kidLow/kidHigh: the interval
              over images from the subsets; fidLow/fidHigh/fidBias: the basic bootstrap interval
              over images and the point value's estimated bias, fid/bootstrap.py; null without
              "kid" / "bootstrap")
         csv  fid.csv  — the same rows
Each comparison is computed independently (KID, bootstrap: a fresh default_rng(seed) per comparison), a
checkpoint (rows so far) is written after each, and a resumed run skips the finished ones.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from ..params import ParamReader
from ..protocol import PermanentError, Preempted, Preemption, Spec, atomic_write, checkpoint_written, progress, result

COLUMNS = [
    "name", "reference", "candidate", "fid", "kidMean", "kidStd", "kidSubsetSize", "kidSubsetCapped",
    "n1", "n2", "epsilonUsed", "extractorId", "weightsSha256",
    "kidLow", "kidHigh", "kidLevel", "fidLow", "fidHigh", "fidBias", "fidLevel", "fidResamples",
]


@dataclass(frozen=True)
class FidTableConfig:
    eps: float
    chunk_rows: int
    device: str  # resolved only when KID runs (that is when torch is imported)

    @staticmethod
    def parse(spec: Spec) -> "FidTableConfig":
        p = ParamReader.of(spec)
        return FidTableConfig(
            eps=p.float("eps", 1e-6),
            chunk_rows=p.at_least("chunkRows", p.int("chunkRows", 4096), 1),
            device=p.str("device", "auto"),
        )


@dataclass(frozen=True)
class KidConfig:
    subsets: int
    subset_size: int
    seed: int
    level: float

    @staticmethod
    def parse(value: Any, groups_path: str) -> "KidConfig | None":
        """The groups file's "kid": an object (defaults 100 subsets of 1000, seed 0, a 95 % interval), or false / null for none."""
        if value is False or value is None:
            return None
        where = f"groups file {groups_path}: kid"
        k = ParamReader(value, where)
        level = k.float("level", 0.95)
        if not 0.0 < level < 1.0:
            raise PermanentError(f"{where}: level must lie in (0, 1), got {level}")
        return KidConfig(k.int("subsets", 100), k.int("subsetSize", 1000), k.int("seed", 0), level)


def _load_groups(path: str) -> tuple[dict[str, Any], bytes]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        doc = json.loads(raw)
    except (OSError, json.JSONDecodeError) as error:
        raise PermanentError(f"cannot read groups file {path}: {error}") from error
    if not isinstance(doc, dict):
        raise PermanentError(f"groups file {path} must hold an object")
    return doc, raw


def _resolve(spec: Spec, base: str, ref: Any, group: str) -> str:
    if not isinstance(ref, str) or not ref:
        raise PermanentError(f"group '{group}': feature paths must be non-empty strings")
    if ref in spec.inputs:
        return spec.inputs[ref]
    return ref if os.path.isabs(ref) else os.path.join(base, ref)


def _write_json(path: str, value: Any) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2)

    atomic_write(path, write)


def run(spec: Spec, preemption: Preemption) -> None:
    import numpy as np

    from ..fid.features import FeatureSet
    from ..fid.frechet import Gaussian, fid_between
    from ..fid.kid import kernel_inception_distance
    from ..fid.bootstrap import BootstrapConfig, fid_bootstrap

    groups_path = spec.input("groups")
    doc, raw = _load_groups(groups_path)
    base = os.path.dirname(os.path.abspath(groups_path))
    cfg = FidTableConfig.parse(spec)
    eps, chunk = cfg.eps, cfg.chunk_rows
    device: Any = None  # resolved (torch imported) only when KID runs

    extractor = doc.get("extractor")
    if not (isinstance(extractor, dict) and isinstance(extractor.get("id"), str)
            and isinstance(extractor.get("weightsSha256"), str)):
        raise PermanentError(f"groups file {groups_path}: 'extractor' must be {{\"id\", \"weightsSha256\"}}")
    ext_id, ext_sha = extractor["id"], extractor["weightsSha256"]

    groups = doc.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise PermanentError(f"groups file {groups_path}: 'groups' must be a non-empty object")
    comparisons = doc.get("comparisons")
    if not isinstance(comparisons, list) or not comparisons:
        raise PermanentError(f"groups file {groups_path}: 'comparisons' must be a non-empty list")
    seen: set[str] = set()
    for i, comp in enumerate(comparisons):
        if not isinstance(comp, dict) or not all(isinstance(comp.get(k), str) for k in ("name", "reference", "candidate")):
            raise PermanentError(f"comparison {i}: needs string fields name, reference, candidate")
        if comp["name"] in seen:
            raise PermanentError(f"comparison name '{comp['name']}' appears twice")
        seen.add(comp["name"])
        for role in ("reference", "candidate"):
            if comp[role] not in groups:
                raise PermanentError(f"comparison '{comp['name']}': {role} group '{comp[role]}' is not defined")

    kid = KidConfig.parse(doc.get("kid", {}), groups_path)
    boot = BootstrapConfig.parse(doc.get("bootstrap"), f"groups file {groups_path}: bootstrap")

    def open_group(name: str) -> FeatureSet:
        entry = groups[name]
        if not isinstance(entry, dict) or not isinstance(entry.get("features"), list):
            raise PermanentError(f"group '{name}': needs a 'features' list of .npy paths")
        paths = [_resolve(spec, base, ref, name) for ref in entry["features"]]
        fs = FeatureSet(name, paths, entry.get("rows"))
        for side, meta in fs.sidecars():
            if "extractorId" in meta and (meta["extractorId"] != ext_id or meta.get("weightsSha256", ext_sha) != ext_sha):
                raise PermanentError(
                    f"group '{name}': {side} was made by extractor {meta['extractorId']} "
                    f"(weights {meta.get('weightsSha256')}), the table is for {ext_id} ({ext_sha})"
                )
        return fs

    fingerprint = hashlib.sha256(raw + json.dumps([eps, chunk]).encode()).hexdigest()
    rows: list[dict[str, Any]] = []
    if spec.resume_from:
        try:
            with open(spec.resume_from, encoding="utf-8") as handle:
                state = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise PermanentError(f"cannot read fid-table checkpoint {spec.resume_from}: {error}") from error
        if state.get("fingerprint") != fingerprint:
            raise PermanentError(f"checkpoint {spec.resume_from} belongs to another groups file; start without resumeFrom")
        rows = list(state["rows"])
    resumed_from = len(rows)

    # Statistics (and, inside Gaussian, the covariance factor) are computed once per group and
    # dropped after the group's last comparison.
    remaining: dict[str, int] = {}
    for comp in comparisons[resumed_from:]:
        for role in ("reference", "candidate"):
            remaining[comp[role]] = remaining.get(comp[role], 0) + 1
    sets: dict[str, FeatureSet] = {}
    stats: dict[str, Gaussian] = {}
    ckpt = spec.out("checkpoint.json")
    total = len(comparisons)
    for index in range(resumed_from, total):
        comp = comparisons[index]
        name, ref, cand = comp["name"], comp["reference"], comp["candidate"]
        for g in (ref, cand):
            if g not in sets:
                sets[g] = open_group(g)
            if len(sets[g]) < 2:
                raise PermanentError(f"comparison '{name}': group '{g}' has {len(sets[g])} sample(s); at least 2 are needed")
        if sets[ref].dim != sets[cand].dim:
            raise PermanentError(
                f"comparison '{name}': feature dimension of '{ref}' ({sets[ref].dim}) "
                f"differs from '{cand}' ({sets[cand].dim})"
            )
        for g in (ref, cand):
            if g not in stats:
                stats[g] = Gaussian.from_stats(sets[g].stats(chunk))
        fr = fid_between(stats[ref], stats[cand], eps)
        row: dict[str, Any] = {
            "name": name,
            "reference": ref,
            "candidate": cand,
            "fid": fr.fid,
            "kidMean": None,
            "kidStd": None,
            "kidSubsetSize": None,
            "kidSubsetCapped": None,
            "n1": len(sets[ref]),
            "n2": len(sets[cand]),
            "epsilonUsed": fr.epsilon_used,
            "extractorId": ext_id,
            "weightsSha256": ext_sha,
            "kidLow": None,
            "kidHigh": None,
            "kidLevel": None,
            "fidLow": None,
            "fidHigh": None,
            "fidBias": None,
            "fidLevel": None,
            "fidResamples": None,
        }
        if kid is not None:
            if device is None:
                from ..runtime import select_device

                device = select_device(cfg.device)
            kr = kernel_inception_distance(
                sets[ref], sets[cand], kid.subsets, kid.subset_size, kid.seed,
                str(device), (f"'{ref}' ({name})", f"'{cand}' ({name})"), kid.level,
            )
            row.update(
                kidMean=kr.mean, kidStd=kr.std, kidSubsetSize=kr.subset_size, kidSubsetCapped=kr.capped,
                kidLow=kr.low, kidHigh=kr.high, kidLevel=kr.level,
            )
        if boot is not None:
            # Both sets in memory once (rows × dim float64: a class, or one overall set per side).
            x = sets[ref].take(np.arange(len(sets[ref])))
            y = sets[cand].take(np.arange(len(sets[cand])))
            fi = fid_bootstrap(x, y, fr.fid, boot, name)
            row.update(fidLow=fi.low, fidHigh=fi.high, fidBias=fi.bias, fidLevel=fi.level, fidResamples=fi.resamples)
        rows.append(row)
        for g in (ref, cand):
            remaining[g] -= 1
            if remaining[g] == 0:
                stats.pop(g, None)
                sets.pop(g, None)
        progress("fid", index + 1, total, name=name, fid=fr.fid)
        if index + 1 < total:
            _write_json(ckpt, {"fingerprint": fingerprint, "rows": rows})
            checkpoint_written(ckpt, index + 1)
            if preemption.requested:
                raise Preempted()

    _write_json(spec.out("fid.json"), rows)

    def write_csv(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            for r in rows:
                writer.writerow(["" if r[c] is None else (repr(r[c]) if isinstance(r[c], float) else r[c]) for c in COLUMNS])

    atomic_write(spec.out("fid.csv"), write_csv)
    result({"fid": "fid.json", "csv": "fid.csv"}, {"rows": rows, "resumedFrom": resumed_from})
