"""The matmul starter's split plan (kernels/matmul/cuda.cu, namespace plan) against a sweep of every option.

A sweep is bench/matmul_variants.py's output with the six options forced by knobs, named w256s1, w256s2, w256s4,
w128s1, w128s2, w128s4 (H_BN=256|128, H_SPLIT_K=1|2|4), e.g.
bench/results/2026-12-07_NVIDIA-H100-80GB-HBM3_cluster_barriers_split_plan/split_sweep.txt. This mirrors the
plan's prediction (plan::cost, plan::best) with the constants read from the starter, and prints, per shape, the
option it picks, the fastest measured one and what the pick costs. --search grid-searches the four constants for
the least total log(picked / fastest) and prints the best settings.

    python3 bench/fit_split_plan.py bench/results/..._split_plan/split_sweep.txt [--search]
"""
import itertools
import math
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
STARTER = ROOT / "kernels" / "matmul" / "cuda.cu"
OPTIONS = {"w256s1": (256, 1), "w256s2": (256, 2), "w256s4": (256, 4),
           "w128s1": (128, 1), "w128s2": (128, 2), "w128s4": (128, 4)}
NAME = {option: name for name, option in OPTIONS.items()}  # (bn, split) -> its name in a sweep


def starter_plan(path=STARTER):
    """(constants {narrow, fill, barriers, move}, options [(bn, split, slots)]) as the starter has them."""
    text = pathlib.Path(path).read_text()
    num = lambda name: float(re.search(rf"\b{name} = ([0-9.]+)", text).group(1))  # noqa: E731
    consts = {"narrow": num("kNarrowRate"), "fill": num("kFill"), "barriers": num("kBarriers"),
              "move": num("kMovePerTile")}
    table = re.search(r"kH100\[\] = \{(.*?)\};", text).group(1)
    options = [tuple(int(v) for v in t) for t in re.findall(r"\{(\d+), (\d+), (\d+)\}", table)]
    return consts, options


def cost(m, n, k, bn, split, slots, c, bm=128):
    """plan::cost for a persistent kernel: predicted time in units of one 128x256x64 slice on one SM."""
    cdiv = lambda a, b: -(-a // b)  # noqa: E731
    tiles, kt = cdiv(m, bm) * cdiv(n, bn), cdiv(k, 64)
    area = bm * bn / (128 * 256)
    slice_ = area / (1.0 if bn >= 256 else c["narrow"])
    if split == 1:
        return cdiv(tiles, slots) * kt * slice_ + c["fill"]
    reduce = c["barriers"] + c["move"] * area * (split - 1) / split
    return cdiv(tiles * split, slots) * (cdiv(kt, split) * slice_ + reduce + c["fill"])


def pick(m, n, k, options, c):
    """plan::best: the least predicted time; a later option replaces an earlier one only when 2% faster."""
    best, t = options[0], cost(m, n, k, *options[0], c)
    for o in options[1:]:
        to = cost(m, n, k, *o, c)
        if to < 0.98 * t:
            best, t = o, to
    return best[:2]


def read_sweep(path):
    """{(M, N, K): {option name: us}} from matmul_variants.py's lines (the first case of each shape)."""
    rows = {}
    for line in pathlib.Path(path).read_text().splitlines():
        m = re.match(r"(\d+)x(\d+)x(\d+) \w+\s+\S+\s+[\d.]+ \| (.*)", line)
        if m:
            key = tuple(int(v) for v in m.groups()[:3])
            times = {name: float(us) for name, us in re.findall(r"(\w+)\s+([\d.]+) [\d.]+x", m.group(4))}
            rows.setdefault(key, {k: v for k, v in times.items() if k in OPTIONS})
    return rows


def loss(rows, options, c):
    """Sum over shapes of log(time of the picked option / time of the fastest), and the shapes it misses."""
    total, missed = 0.0, []
    for shape, times in rows.items():
        got, fastest = times[NAME[pick(*shape, options, c)]], min(times.values())
        total += math.log(got / fastest)
        if got > fastest:
            missed.append(shape)
    return total, missed


def main():
    rows = read_sweep(sys.argv[1])
    consts, options = starter_plan()
    print(f"the starter's constants {consts}, options {options}")
    for shape, times in rows.items():
        p = NAME[pick(*shape, options, consts)]
        fastest = min(times, key=times.get)
        print(f"{'x'.join(map(str, shape)):>18}: picks {p} {times[p]:8.2f} us, fastest {fastest} "
              f"{times[fastest]:8.2f} us ({times[p] / times[fastest]:.3f}x)")
    total, missed = loss(rows, options, consts)
    print(f"loss {total:.4f}, {len(missed)} of {len(rows)} shapes not at their fastest option")
    if "--search" in sys.argv:
        grid = itertools.product([0.66, 0.75, 0.8, 0.85, 0.9, 0.95], [1, 2, 3, 4], [1, 2, 4, 8, 10, 12, 14, 16],
                                 [0, 2, 4, 8, 12, 16, 24])
        found = sorted((loss(rows, options, dict(zip(consts, g)))[0], g) for g in grid)
        for value, g in found[:10]:
            print(f"loss {value:.4f}: narrow {g[0]}, fill {g[1]}, barriers {g[2]}, move {g[3]}")


if __name__ == "__main__":
    main()
