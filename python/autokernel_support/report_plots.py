"""The plots of `autokernel report`, drawn with matplotlib (Agg backend, no display needed).

Run:  python3 -m autokernel_support.report_plots SPEC.json

The C++ side (src/report/plots.cpp) writes SPEC.json and reads what this prints. The spec:

    {"plots": [
       {"kind": "progress", "out": "/abs/path/stem", "title": "...", "unit": "GB/s",
        "points": [{"experiment": 3, "throughput": 12.5, "status": "kept"}, ...],
        "reference": 10.0,             # eager PyTorch's throughput (optional)
        "ceiling": 40.0},              # the measured roofline ceiling (optional)
       {"kind": "roofline", "out": "/abs/path/stem", "title": "...",
        "bandwidth_gb_s": 3000.0,      # the memory roof (optional)
        "compute_gflops": 700000.0,    # the compute roof (optional)
        "points": [{"name": "rmsnorm_cuda", "intensity": 0.8, "gflops": 1200.0, "baseline_gflops": 600.0}]}
    ]}

Each plot is written as STEM.png and STEM.svg; one line "wrote PATH" per file goes to stdout. Exit code
3 (and one line on stderr) when matplotlib is missing, so the caller can say how to install it.
"""
import json
import sys

EXIT_NO_MATPLOTLIB = 3

# Outcome -> (marker, colour, label); failures have no throughput and sit on the x axis.
_STYLE = {
    "baseline": ("s", "#1f77b4", "baseline"),
    "kept": ("o", "#2ca02c", "kept"),
    "reverted": ("x", "#7f7f7f", "reverted (not faster)"),
}
_FAILED = ("v", "#d62728", "failed (incorrect, crashed, ...)")
# A progress plot whose values span more than this ratio gets a log axis.
_LOG_RATIO = 20


def _save(fig, stem, plt):
    for ext in ("png", "svg"):
        path = f"{stem}.{ext}"
        # No date or creator in the SVG: the same data draws the same file, and nothing in it points outside.
        metadata = {"Date": None, "Creator": None, "Format": None, "Type": None} if ext == "svg" else None
        fig.savefig(path, dpi=110 if ext == "png" else None, bbox_inches="tight", metadata=metadata)
        print(f"wrote {path}", flush=True)
    plt.close(fig)


def progress(spec, plt):
    """Throughput over experiments: each outcome its own marker, the best so far as a step line."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    points = spec.get("points", [])
    # Far below its ceiling (a CPU kernel, a first starter) the data would be a flat line at the bottom of a
    # linear axis: a log axis then shows the experiments and both lines; failures sit on its floor.
    positive = [p["throughput"] for p in points if p["throughput"] > 0 and p["status"] in _STYLE]
    lines = [v for v in (spec.get("reference"), spec.get("ceiling")) if v]
    log = bool(positive) and max(positive + lines) > _LOG_RATIO * min(positive + lines)
    floor = min(positive + lines) / 2 if log else 0.0
    groups = {}
    for p in points:
        key = p["status"] if p["status"] in _STYLE else "failed"
        groups.setdefault(key, []).append(p)
    for key, pts in groups.items():
        marker, colour, label = _STYLE.get(key, _FAILED)
        ys = [p["throughput"] if key in _STYLE else floor for p in pts]
        ax.scatter([p["experiment"] for p in pts], ys, marker=marker, color=colour, label=f"{label}: {len(pts)}",
                   zorder=3, s=36, clip_on=False)
    best_x, best_y, best = [], [], None
    for p in sorted(points, key=lambda p: p["experiment"]):
        if p["status"] in ("baseline", "kept"):
            best = p["throughput"]
        if best is not None:
            best_x.append(p["experiment"])
            best_y.append(best)
    if best_x:
        ax.step(best_x, best_y, where="post", color="#2ca02c", alpha=0.5, linewidth=1.2, label="best so far")
    if spec.get("reference"):
        ax.axhline(spec["reference"], color="#ff7f0e", linestyle="--", linewidth=1.2,
                   label=f"PyTorch eager: {spec['reference']:.3g} {spec['unit']}")
    if spec.get("ceiling"):
        ax.axhline(spec["ceiling"], color="#9467bd", linestyle=":", linewidth=1.5,
                   label=f"ceiling: {spec['ceiling']:.3g} {spec['unit']}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("experiment")
    ax.set_ylabel(f"throughput [{spec['unit']}]")
    if log:
        ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_title(spec.get("title", ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    _save(fig, spec["out"], plt)


def roofline(spec, plt):
    """Arithmetic intensity vs achieved FLOP/s on log axes, under the memory and compute roofs."""
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    points = [p for p in spec.get("points", []) if p.get("intensity", 0) > 0 and p.get("gflops", 0) > 0]
    bw, peak = spec.get("bandwidth_gb_s"), spec.get("compute_gflops")
    # The x range spans the kernels and the ridge point, a decade beyond each side.
    anchors = [p["intensity"] for p in points] + ([peak / bw] if bw and peak else [])
    lo, hi = (min(anchors) / 10, max(anchors) * 10) if anchors else (0.01, 100.0)
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    if bw:
        roof = [bw * x if not peak else min(bw * x, peak) for x in grid]
        ax.plot(grid, roof, color="#9467bd", linewidth=1.5, label=f"memory roof: {bw:.4g} GB/s")
    if peak:
        start = peak / bw if bw else lo
        ax.plot([start, hi], [peak, peak], color="#8c564b", linewidth=1.5,
                label=f"compute roof: {peak / 1000:.4g} TFLOP/s")
    for i, p in enumerate(points):
        colour = f"C{i % 10}"
        if p.get("baseline_gflops"):
            ax.annotate("", xy=(p["intensity"], p["gflops"]), xytext=(p["intensity"], p["baseline_gflops"]),
                        arrowprops={"arrowstyle": "->", "color": colour, "alpha": 0.6})
            ax.scatter([p["intensity"]], [p["baseline_gflops"]], marker="s", facecolors="none", edgecolors=colour, s=30,
                       label="starter (hollow) -> best" if i == 0 else None)
        ax.scatter([p["intensity"]], [p["gflops"]], color=colour, s=40, zorder=3, label=p["name"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity [FLOP/byte]")
    ax.set_ylabel("achieved [GFLOP/s]")
    ax.set_title(spec.get("title", ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    _save(fig, spec["out"], plt)


_KINDS = {"progress": progress, "roofline": roofline}


def main(argv):
    if len(argv) != 2:
        print("usage: python3 -m autokernel_support.report_plots SPEC.json", file=sys.stderr)
        return 2
    try:
        import matplotlib

        matplotlib.use("Agg")
        # SVG text as <text> elements, not glyph outlines: smaller, searchable, and no glyph ids shared
        # between two plots inlined in one page.
        matplotlib.rcParams["svg.fonttype"] = "none"
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"matplotlib is not installed ({e})", file=sys.stderr)
        return EXIT_NO_MATPLOTLIB
    with open(argv[1]) as f:
        spec = json.load(f)
    for plot in spec.get("plots", []):
        kind = plot.get("kind")
        if kind not in _KINDS:
            print(f"unknown plot kind {kind!r} (known: {', '.join(_KINDS)})", file=sys.stderr)
            return 2
        # SVG ids salted by the plot's path: the same data draws the same file (matplotlib's default salt is
        # random), and two plots inlined in one page still get ids of their own.
        matplotlib.rcParams["svg.hashsalt"] = plot["out"]
        _KINDS[kind](plot, plt)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
