"""ARCHITECTURE.md's dependency table is the truth about src/: every `#include "part/..."` of a file in
src/<part>/ names a part (and, where the table lists them, a module) that the table allows for it.

The table's "depends on" column is read as written: `util` allows the whole part, `harness (model_shapes)`
or `harness/timing` only those modules, `the ABI header` the kernels' ABI (`autokernel/kernel_abi.h`),
`everything` anything, and names that are not parts (ATen, torch) are outside this check.
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def parts():
    return sorted(p.name for p in SRC.iterdir() if p.is_dir())


def allowed_by_table():
    """{part: None (anything) or {dependency part: None (whole part) or {module, ...}}}."""
    table = {}
    text = (ROOT / "ARCHITECTURE.md").read_text()
    for line in text.splitlines():
        m = re.match(r"\|\s*`src/([a-z_]+)/`\s*\|.*\|\s*([^|]*)\|\s*$", line)
        if not m:
            continue
        part, deps = m.group(1), m.group(2).strip()
        if deps == "everything":
            table[part] = None
            continue
        allowed = {}
        # Split on commas outside parentheses: "loop (git_repo, results_log), backends".
        for item in re.split(r",\s*(?![^()]*\))", deps):
            item = item.strip()
            if item.startswith("the ABI header"):
                allowed["autokernel"] = None
                continue
            m = re.match(r"([a-z_]+)(?:/([a-z_]+)(?:\.hpp)?)?(?:\s*\(([^)]*)\))?$", item)
            if not m or m.group(1) not in parts():
                continue  # ATen, torch, "nothing of autokernel"
            dep, module, modules = m.groups()
            names = {module} if module else {re.match(r"\s*([a-z_]+)", n).group(1) for n in modules.split(",")} if modules else None
            if dep in allowed and allowed[dep] is not None and names is not None:
                allowed[dep] |= names
            else:
                allowed[dep] = names
        table[part] = allowed
    return table


def test_the_table_names_every_part():
    assert sorted(allowed_by_table()) == parts()


def test_every_include_is_one_the_table_allows():
    table = allowed_by_table()
    wrong = []
    for part in parts():
        allowed = table[part]
        for f in sorted((SRC / part).rglob("*.[ch]pp")):
            for inc in INCLUDE.findall(f.read_text()):
                dep, _, rest = inc.partition("/")
                if dep == part or not rest or allowed is None:
                    continue
                if dep not in parts() and dep != "autokernel":
                    continue
                module = pathlib.PurePath(rest).stem
                ok = dep in allowed and (allowed[dep] is None or module in allowed[dep])
                if not ok:
                    wrong.append(f"{f.relative_to(ROOT)} includes {inc}")
    assert not wrong, "not in ARCHITECTURE.md's table:\n" + "\n".join(wrong)


def test_the_check_sees_a_wrong_include(tmp_path, monkeypatch):
    """The check itself: an include the table does not allow is reported."""
    fake = tmp_path / "src"
    for part in parts():
        (fake / part).mkdir(parents=True)
    (fake / "util" / "x.cpp").write_text('#include "workspace/workspace.hpp"\n')
    (tmp_path / "ARCHITECTURE.md").write_text((ROOT / "ARCHITECTURE.md").read_text())
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    try:
        test_every_include_is_one_the_table_allows()
    except AssertionError as e:
        assert "src/util/x.cpp includes workspace/workspace.hpp" in str(e)
    else:
        raise AssertionError("a util file including the workspace passed the check")


DETAIL = re.compile(r"\b(\w+)::detail::(\w+)")


def detail_uses_outside(root):
    """`part::detail::name` used in a file outside src/part/ (or in tests): each part's detail namespace is
    its own; what other parts need is promoted to its public header."""
    out = []
    for f in sorted(p for d in ("src", "tests") for p in (root / d).rglob("*.[ch]pp") if "data" not in p.parts):
        rel = f.relative_to(root)
        for ns, name in DETAIL.findall(f.read_text()):
            if ns in parts() and not (rel.parts[0] == "src" and rel.parts[1] == ns):
                out.append(f"{rel} uses {ns}::detail::{name}")
    return out


def test_no_part_reaches_into_another_parts_detail(tmp_path):
    assert not detail_uses_outside(ROOT), "\n".join(detail_uses_outside(ROOT))
    (tmp_path / "src" / "report").mkdir(parents=True)  # the check itself sees one
    (tmp_path / "src" / "report" / "x.cpp").write_text("auto s = catalog::detail::shape_string(d);\n")
    assert detail_uses_outside(tmp_path) == ["src/report/x.cpp uses catalog::detail::shape_string"]


def cpp_files():
    return sorted(p for d in ("src", "tests") for p in (ROOT / d).rglob("*.[ch]pp") if "data" not in p.parts)


def test_no_cpp_line_is_over_120_columns():
    long = [f"{f.relative_to(ROOT)}:{i}" for f in cpp_files()
            for i, line in enumerate(f.read_text().splitlines(), 1) if len(line) > 120]
    assert not long, "over 120 columns:\n" + "\n".join(long)


def test_cpp_follows_clang_format():
    """src/ and tests/ as .clang-format lays them out (the starters in kernels/ keep their own layout: a
    proposer edits them, and their @knob lines are one line each)."""
    import shutil
    import subprocess
    exe = shutil.which("clang-format")
    if exe is None:
        import pytest
        pytest.skip("clang-format is not installed (scripts/install_deps.sh installs it)")
    files = [str(f) for f in cpp_files()]
    r = subprocess.run([exe, "--dry-run", "--Werror", *files], capture_output=True, text=True, cwd=ROOT)
    bad = sorted({line.split(":")[0] for line in r.stderr.splitlines() if ": error:" in line})
    assert r.returncode == 0, "not formatted (clang-format -i FILE):\n" + "\n".join(bad)
