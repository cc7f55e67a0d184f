"""Checks python/autokernel_support/report_plots.py, the plotter `autokernel report` runs as a child.

Run:  python3 -m pytest -q tests/report
"""
import json
import pathlib
import sys
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
from autokernel_support import report_plots  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def spec(tmp_path):
    return {
        "plots": [
            {"kind": "progress", "out": str(tmp_path / "k_progress"), "title": "k", "unit": "GB/s",
             "reference": 3.0, "ceiling": 10.0,
             "points": [{"experiment": 0, "throughput": 1.0, "status": "baseline"},
                        {"experiment": 1, "throughput": 2.0, "status": "kept"},
                        {"experiment": 2, "throughput": 1.9, "status": "reverted"},
                        {"experiment": 3, "throughput": 0.0, "status": "crashed"}]},
            {"kind": "roofline", "out": str(tmp_path / "roofline"), "title": "r", "bandwidth_gb_s": 10.0,
             "compute_gflops": 100.0,
             "points": [{"name": "k", "intensity": 0.5, "gflops": 1.0, "baseline_gflops": 0.5},
                        {"name": "unplaced", "intensity": 0, "gflops": 0}]},
        ]
    }


def write_spec(tmp_path, s):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(s))
    return str(path)


def test_every_plot_is_written_as_a_valid_png_and_svg_with_nothing_external(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert report_plots.main(["report_plots", write_spec(tmp_path, spec(tmp_path))]) == 0
    printed = capsys.readouterr().out.split("\n")
    for stem in ("k_progress", "roofline"):
        png, svg = tmp_path / f"{stem}.png", tmp_path / f"{stem}.svg"
        assert f"wrote {png}" in printed and f"wrote {svg}" in printed
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        text = svg.read_text()
        assert "<text" in text  # text kept as text (svg.fonttype none), not glyph outlines
        for attr in ("href", "src"):
            for el in root.iter():
                for key, value in el.attrib.items():
                    if key.endswith(attr):
                        assert value.startswith("#"), f"{stem}: {key}={value}"
    # The progress plot names each outcome with its count, and the two reference lines with their values.
    progress = (tmp_path / "k_progress.svg").read_text()
    for label in ("baseline: 1", "kept: 1", "reverted (not faster): 1", "failed (incorrect, crashed, ...): 1",
                  "PyTorch eager: 3 GB/s", "ceiling: 10 GB/s"):
        assert label in progress, label


def test_two_plots_of_one_page_share_no_clip_path_ids(tmp_path):
    # Two kernels with the same history draw the same figure; inlined in one page, equal ids would clash.
    pytest.importorskip("matplotlib")
    progress = spec(tmp_path)["plots"][0]
    twins = {"plots": [dict(progress, out=str(tmp_path / "a")), dict(progress, out=str(tmp_path / "b"))]}
    assert report_plots.main(["report_plots", write_spec(tmp_path, twins)]) == 0

    def ids(name):
        return {el.attrib["id"] for el in ET.parse(tmp_path / name).getroot().iter() if el.tag.endswith("clipPath")}

    a, b = ids("a.svg"), ids("b.svg")
    assert a and b and not (a & b)


def test_the_same_data_draws_the_same_svg(tmp_path):
    pytest.importorskip("matplotlib")
    path = write_spec(tmp_path, spec(tmp_path))
    assert report_plots.main(["report_plots", path]) == 0
    first = (tmp_path / "roofline.svg").read_text()
    assert report_plots.main(["report_plots", path]) == 0
    assert (tmp_path / "roofline.svg").read_text() == first


def test_missing_matplotlib_is_exit_code_3(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    assert report_plots.main(["report_plots", write_spec(tmp_path, spec(tmp_path))]) == report_plots.EXIT_NO_MATPLOTLIB
    assert "matplotlib is not installed" in capsys.readouterr().err


def test_an_unknown_plot_kind_is_refused(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    bad = {"plots": [{"kind": "pie", "out": str(tmp_path / "x")}]}
    assert report_plots.main(["report_plots", write_spec(tmp_path, bad)]) == 2
    assert "unknown plot kind 'pie'" in capsys.readouterr().err
