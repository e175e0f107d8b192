"""`fid-table` end to end (real engine subprocess) against the independent fixtures."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from test_fid_support import error_of, result_of, run_engine

FIXTURES = Path(__file__).parent / "fixtures" / "fid"
EXTRACTOR = {"id": "test-extractor/v0", "weightsSha256": "ab" * 32}


def fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list, Path]:
    tmp = tmp_path_factory.mktemp("fidtable")
    well, rank = fixture("well_conditioned"), fixture("rank_deficient")
    # the well-conditioned reference set split over two files; the candidate selected by rows
    np.save(tmp / "well_x1_a.npy", well["x1"][:700])
    np.save(tmp / "well_x1_b.npy", well["x1"][700:])
    shuffled = np.random.default_rng(0).permutation(len(well["x2"]))
    mixed = np.concatenate([rank["x1"][:, :64], well["x2"][shuffled]])  # 50 decoy rows first
    np.save(tmp / "mixed.npy", mixed)
    inverse = np.argsort(shuffled)
    np.save(tmp / "rank_x1.npy", rank["x1"])
    np.save(tmp / "rank_x2.npy", rank["x2"])
    groups = {
        "groups": {
            "orig/well": {"features": ["well_x1_a.npy", str(tmp / "well_x1_b.npy")]},
            "synth/well": {"features": ["mixed"], "rows": (50 + inverse).tolist()},
            "orig/rank": {"features": ["rank_x1.npy"]},
            "synth/rank": {"features": ["rank_x2.npy"]},
        },
        "comparisons": [
            {"name": "vanilla/well", "reference": "orig/well", "candidate": "synth/well"},
            {"name": "vanilla/rank", "reference": "orig/rank", "candidate": "synth/rank"},
            {"name": "self/rank", "reference": "orig/rank", "candidate": "orig/rank"},
        ],
        "kid": {"subsets": int(well["kid_subsets"]), "subsetSize": int(well["kid_size"]), "seed": int(well["kid_seed"])},
        "extractor": EXTRACTOR,
    }
    path = tmp / "groups.json"
    path.write_text(json.dumps(groups))
    # "mixed" is passed as a named spec input, the others by path relative to the groups file
    inputs = {"groups": path, "mixed": tmp / "mixed.npy"}
    code, evs, work, stderr = run_engine(tmp, "fid-table", "full", {"device": "cpu"}, inputs)
    assert code == 0, stderr
    return tmp, inputs, evs, work


def test_rows_match_references(table: tuple) -> None:
    _tmp, _inputs, evs, work = table
    res = result_of(evs)
    assert res["outputs"] == {"fid": "fid.json", "csv": "fid.csv"}
    rows = {r["name"]: r for r in json.loads((work / "fid.json").read_text())}
    assert rows == {r["name"]: r for r in res["summary"]["rows"]}
    for name, case in (("vanilla/well", "well_conditioned"), ("vanilla/rank", "rank_deficient")):
        ref = fixture(case)
        row = rows[name]
        assert abs(row["fid"] - float(ref["fid"])) <= 1e-6 * float(ref["fid"])
        assert abs(row["kidMean"] - float(ref["kid_mean"])) <= 1e-6 * abs(float(ref["kid_mean"]))
        assert abs(row["kidStd"] - float(ref["kid_std"])) <= 1e-6 * float(ref["kid_std"])
        assert (row["n1"], row["n2"]) == (len(ref["x1"]), len(ref["x2"]))
        assert row["epsilonUsed"] == 0.0
        assert (row["kidSubsetSize"], row["kidSubsetCapped"]) == (int(ref["kid_size"]), False)
        assert row["extractorId"] == EXTRACTOR["id"] and row["weightsSha256"] == EXTRACTOR["weightsSha256"]
    assert rows["self/rank"]["fid"] < 1e-9 * rows["vanilla/rank"]["fid"]
    with open(work / "fid.csv", newline="") as handle:
        table_rows = list(csv.DictReader(handle))
    assert [r["name"] for r in table_rows] == ["vanilla/well", "vanilla/rank", "self/rank"]
    assert float(table_rows[0]["fid"]) == rows["vanilla/well"]["fid"]
    assert table_rows[0]["extractorId"] == EXTRACTOR["id"]
    assert table_rows[0]["kidSubsetCapped"] == "False"


def test_resume_from_checkpoint_gives_identical_table(table: tuple) -> None:
    tmp, inputs, _evs, work = table
    ckpt = work / "checkpoint.json"
    state = json.loads(ckpt.read_text())
    assert len(state["rows"]) == 2  # written after every comparison but the last
    state["rows"] = state["rows"][:1]  # as if preempted after the first comparison
    partial = tmp / "partial.json"
    partial.write_text(json.dumps(state))
    code, evs, work2, stderr = run_engine(tmp, "fid-table", "resumed", {"device": "cpu"}, inputs, str(partial))
    assert code == 0, stderr
    assert result_of(evs)["summary"]["resumedFrom"] == 1
    assert (work2 / "fid.json").read_bytes() == (work / "fid.json").read_bytes()
    assert (work2 / "fid.csv").read_bytes() == (work / "fid.csv").read_bytes()


def _bad_table(tmp: Path, name: str, groups: dict, comparisons: list) -> tuple[int, str]:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"groups": groups, "comparisons": comparisons, "extractor": EXTRACTOR,
                                "kid": {"subsets": 2, "subsetSize": 10, "seed": 0}}))
    code, evs, _work, _stderr = run_engine(tmp, "fid-table", name, {"device": "cpu"}, {"groups": path})
    return code, error_of(evs)


def test_bad_inputs_exit_3_naming_the_group(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", rng.normal(size=(20, 8)).astype(np.float32))
    np.save(tmp_path / "b.npy", rng.normal(size=(20, 9)).astype(np.float32))
    np.save(tmp_path / "one.npy", rng.normal(size=(1, 8)).astype(np.float32))
    (tmp_path / "c.json").write_text(json.dumps({"extractorId": "inception-v3-fid", "weightsSha256": "cd" * 32}))
    np.save(tmp_path / "c.npy", rng.normal(size=(20, 8)).astype(np.float32))
    groups = {"orig/cat": {"features": ["a.npy"]}, "wide/cat": {"features": ["b.npy"]},
              "vanilla/cat": {"features": ["one.npy"]}, "other/cat": {"features": ["c.npy"]}}
    code, message = _bad_table(tmp_path, "dims", groups, [{"name": "w/cat", "reference": "orig/cat", "candidate": "wide/cat"}])
    assert code == 3 and "dimension" in message and "orig/cat" in message and "wide/cat" in message
    code, message = _bad_table(tmp_path, "one", groups, [{"name": "v/cat", "reference": "orig/cat", "candidate": "vanilla/cat"}])
    assert code == 3 and "vanilla/cat" in message and "at least 2" in message
    code, message = _bad_table(tmp_path, "side", groups, [{"name": "o/cat", "reference": "orig/cat", "candidate": "other/cat"}])
    assert code == 3 and "inception-v3-fid" in message and "other/cat" in message
    code, message = _bad_table(tmp_path, "nogroup", groups, [{"name": "x/cat", "reference": "orig/cat", "candidate": "nope"}])
    assert code == 3 and "nope" in message
    assert os.path.exists(tmp_path / "a.npy")
