"""The matmul starter's split plan against the committed sweep it was fitted to (bench/fit_split_plan.py).

Run:  python3 -m pytest -q tests/bench
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import fit_split_plan as fit  # noqa: E402

SWEEP = ROOT / "bench/results/2026-12-07_NVIDIA-H100-80GB-HBM3_cluster_barriers_split_plan/split_sweep.txt"


def test_the_sweep_holds_every_option_at_every_shape():
    rows = fit.read_sweep(SWEEP)
    assert len(rows) == 18
    assert all(set(times) == set(fit.OPTIONS) for times in rows.values())


def test_the_starters_constants_pick_the_fastest_option_at_every_swept_shape():
    # What the comment above namespace plan claims; a constant edited without a new sweep breaks it.
    consts, options = fit.starter_plan()
    assert [o[:2] for o in options] == list(fit.OPTIONS.values())
    total, missed = fit.loss(fit.read_sweep(SWEEP), options, consts)
    assert missed == [] and total == 0


def test_the_first_guess_missed_shapes_it_was_fitted_away_from():
    # The constants before the sweep (rate 0.66, fill 2, barriers 1, move 2) split 512 tokens in two.
    _, options = fit.starter_plan()
    old = {"narrow": 0.66, "fill": 2.0, "barriers": 1.0, "move": 2.0}
    total, missed = fit.loss(fit.read_sweep(SWEEP), options, old)
    assert (512, 4096, 4096) in missed and total > 0.5
    assert fit.pick(512, 4096, 4096, options, old) == (256, 2)
