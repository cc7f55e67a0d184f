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
    dims = [8, 16 + ord(config[0])]  # a configuration is its shape
    return {"type": type_, "config": config, "dtype": "bf16", "dims": dims, "backends": backends,
            "eager": {"us": 2 * best}, "compile": {"us": compile_us}, "pct_of_ceiling": 50.0,
            "speedup": {"eager": 2.0, "compile": compile_us / best}}


def combine(tmp_path, docs, *flags):
    paths = list(flags)
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
    later = row("reduce", "a", 8.0, 9.0)
    later["config"] = "named"  # the same shape under another label is the same row
    lines = combine(tmp_path, [[row("reduce", "a", 10.0, 9.0)], [later]])
    body = [l for l in lines[1:] if l.startswith("reduce ")]
    assert len(body) == 1 and "8.00" in body[0] and "part1.json" in body[0]


def test_median_mode_takes_each_time_over_the_runs_and_the_ratio_between_the_medians(tmp_path):
    runs = [[row("reduce", "a", 10.0, 9.0)], [row("reduce", "a", 11.0, 12.0)], [row("reduce", "a", 30.0, 11.0)]]
    lines = combine(tmp_path, runs, "--median")
    body = [l for l in lines[1:] if l.startswith("reduce ")]
    assert len(body) == 1
    cols = body[0].split()
    assert cols[4] == "11.00"  # cuda: median of 10, 11, 30
    assert cols[6] == "22.00" and cols[7] == "11.00"  # eager 2x each run's: 20, 22, 60; compile 9, 12, 11
    assert "1.00x" in body[0] and "median of 3" in body[0]  # compile 11 / ours 11, not any one run's ratio
    assert [l for l in lines if l.startswith("reduce:")] == [
        "reduce: 1 rows; at least as fast as compile on 1 of 1 (1.00-1.00x, geomean 1.00x)"]
    # Without --median the last run wins, its own ratio (11 / 30).
    last = [l for l in combine(tmp_path, runs) if l.startswith("reduce ")]
    assert "30.00" in last[0] and "0.37x" in last[0]
