"""One table from several `autokernel suite --json` files (a default suite run in parts, each within a
device call's time limit): every row with both backends' times, the baselines, and per type how many
rows the best of ours beats torch.compile and the library on. A row in several files: the last wins.
    python3 bench/suite_combine.py norms.json reduce.json ... > combined.txt
"""
import json
import math
import sys

rows = {}
for path in sys.argv[1:]:
    doc = json.load(open(path))
    for r in doc["rows"]:
        rows[(r["type"], r["config"], r["dtype"])] = (r, path.rsplit("/", 1)[-1])


def us(block):
    return block.get("us") if block and block.get("status", "passed") == "passed" else None


def fmt(v, spec, unit=""):
    width = int(spec.split(".")[0])
    return format(v, spec) + unit if v is not None else "-".rjust(width) + " " * len(unit)


print(f"{'type':<17}{'config':<28}{'dtype':<6}{'cuda us':>10}{'triton us':>10}{'eager':>10}{'compile':>10}"
      f"{'library':>10}{'%ceil':>8}{'vs compile':>11}{'vs library':>11}  file")
tally = {}
for (t, config, dtype), (r, src) in rows.items():
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
