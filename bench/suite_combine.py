"""One table from several `autokernel suite --json` files (a default suite run in parts, each within a
device call's time limit): every row with both backends' times, the baselines, and per type how many
rows the best of ours beats torch.compile and the library on. A row (type, dims, dtype) in several
files: the last wins,
or with --median (the same suite run repeated, to see past run-to-run noise) each time is the median
of the runs that measured it and the ratios are taken between those medians.
    python3 bench/suite_combine.py norms.json reduce.json ... > combined.txt
    python3 bench/suite_combine.py --median run1.json run2.json run3.json
"""
import argparse
import json
import math
import statistics

parser = argparse.ArgumentParser(description="One table from several `autokernel suite --json` files.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
parser.add_argument("--median", action="store_true", help="times are medians over the files, not the last file's")
parser.add_argument("paths", nargs="+", metavar="SUITE.json")
cli = parser.parse_args()
median_mode, paths = cli.median, cli.paths


def us(block):
    return block.get("us") if block and block.get("status", "passed") == "passed" else None


def median_row(seen):
    """One row whose times are the medians over `seen` (rows of one configuration from several runs)."""
    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    first = seen[0]
    backends = {}
    for name in sorted({n for r in seen for n in r.get("backends", {})}):
        m = med(us(r.get("backends", {}).get(name)) for r in seen)
        backends[name] = {"status": "passed", "us": m} if m is not None else {"status": "failed"}
    out = dict(first, backends=backends)
    for key in ("eager", "compile", "library"):
        m = med(us(r.get(key)) for r in seen)
        out[key] = {"us": m} if m is not None else None
    best = min((b["us"] for b in backends.values() if b.get("us") is not None), default=None)
    out["speedup"] = {k: out[k]["us"] / best for k in ("eager", "compile", "library") if out[k] and best}
    out["pct_of_ceiling"] = med(r.get("pct_of_ceiling") for r in seen)
    return out


rows, seen = {}, {}
for path in paths:
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        parser.error(f"{path}: {e}")
    for r in doc["rows"]:
        key = (r["type"], tuple(r["dims"]), r["dtype"])  # a shape's label may differ between runs
        rows[key] = (r, path.rsplit("/", 1)[-1])
        seen.setdefault(key, []).append(r)
if median_mode:
    rows = {k: (median_row(v), f"median of {len(v)}") for k, v in seen.items()}


def fmt(v, spec, unit=""):
    width = int(spec.split(".")[0])
    return format(v, spec) + unit if v is not None else "-".rjust(width) + " " * len(unit)


print(f"{'type':<17}{'config':<28}{'dtype':<6}{'cuda us':>10}{'triton us':>10}{'eager':>10}{'compile':>10}"
      f"{'library':>10}{'%ceil':>8}{'vs compile':>11}{'vs library':>11}  file")
tally = {}
for (t, _, dtype), (r, src) in rows.items():
    config = r["config"]
    b = r.get("backends", {})
    cu, tr = us(b.get("cuda")), us(b.get("triton"))
    best = min(v for v in (cu, tr) if v is not None) if (cu or tr) else None
    eager, comp, lib = us(r.get("eager")), us(r.get("compile")), us(r.get("library"))
    vc, vl = r.get("speedup", {}).get("compile"), r.get("speedup", {}).get("library")  # the suite's own
    pct = r.get("pct_of_ceiling")
    dims = "x".join(str(d) for d in r["dims"])
    print(f"{t:<17}{(config + ' ' + dims)[:27]:<28}{dtype:<6}{fmt(cu, '10.2f')}{fmt(tr, '10.2f')}{fmt(eager, '10.2f')}"
          f"{fmt(comp, '10.2f')}{fmt(lib, '10.2f')}{fmt(pct, '7.1f', '%')}{fmt(vc, '10.2f', 'x')}{fmt(vl, '10.2f', 'x')}  {src}")
    s = tally.setdefault(t, {"rows": 0, "compile": [], "library": []})
    s["rows"] += 1
    for key, v in (("compile", vc), ("library", vl)):
        if v is not None:
            s[key].append(v)
print()
for t, s in tally.items():
    parts = [f"{t}: {s['rows']} rows"]
    for key in ("compile", "library"):
        v = s[key]
        if v:
            geo = math.exp(sum(math.log(x) for x in v) / len(v))
            parts.append(f"at least as fast as {key} on {sum(x >= 1.0 for x in v)} of {len(v)} "
                         f"({min(v):.2f}-{max(v):.2f}x, geomean {geo:.2f}x)")
    print("; ".join(parts))
