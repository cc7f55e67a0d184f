"""Checks bench/suite_combine.py: one table from the --json files of a suite run in parts.

Run:  python3 -m pytest -q tests/suite
"""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "suite_combine.py"


def row(type_, config, us_cuda, compile_us, triton=None):
    backends = {"cuda": {"status": "passed", "us": us_cuda}}
    if triton is not None:
        backends["triton"] = {"status": "incorrect", "us": triton}  # a failed backend's time is never shown
    best = us_cuda
    return {"type": type_, "config": config, "dtype": "bf16", "dims": [8, 16], "backends": backends,
            "eager": {"us": 2 * best}, "compile": {"us": compile_us}, "pct_of_ceiling": 50.0,
            "speedup": {"eager": 2.0, "compile": compile_us / best}}


def combine(tmp_path, docs):
    paths = []
    for i, rows in enumerate(docs):
        p = tmp_path / f"part{i}.json"
        p.write_text(json.dumps({"rows": rows}))
        paths.append(str(p))
    out = subprocess.run([sys.executable, str(SCRIPT), *paths], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_rows_of_every_part_and_per_type_counts(tmp_path):
    lines = combine(tmp_path, [[row("rmsnorm", "a", 10.0, 12.0), row("rmsnorm", "b", 10.0, 9.0)],
                               [row("softmax", "a", 5.0, 10.0, triton=1.0)]])
    body = [l for l in lines[1:] if l.strip() and ":" not in l.split()[0]]
    assert len(body) == 3
    softmax = next(l for l in body if l.startswith("softmax"))
    cols = softmax.split()  # type, config, dims, dtype, cuda us, triton us, ...
    assert cols[4] == "5.00" and cols[5] == "-"  # the failed triton backend's time is never shown
    assert "2.00x" in softmax and "part1.json" in softmax
    summary = [l for l in lines if l.startswith("rmsnorm:")]
    assert summary == ["rmsnorm: 2 rows; at least as fast as compile on 1 of 2 (0.90-1.20x, geomean 1.04x)"]


def test_a_row_in_two_parts_takes_the_later(tmp_path):
    lines = combine(tmp_path, [[row("reduce", "a", 10.0, 9.0)], [row("reduce", "a", 8.0, 9.0)]])
    body = [l for l in lines[1:] if l.startswith("reduce ")]
    assert len(body) == 1 and "8.00" in body[0] and "part1.json" in body[0]
