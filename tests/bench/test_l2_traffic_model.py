"""bench/l2_traffic_model.py against the kernels it models: its tile order is the starters' own (the shared region
hopper_tile_order of kernels/matmul/cuda.cu, compiled for the host by g++ here), and its cache counts what it says.

Run:  python3 -m pytest -q tests/bench
"""
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import l2_traffic_model as model  # noqa: E402


def kernel_tile_order(tmp_path, m, n, group, bm=128, bn=256):
    """The matmul starter's tile order for M x N, from its own source lines run on the host."""
    src = (ROOT / "kernels/matmul/cuda.cu").read_text()
    region = src.split("// @shared begin hopper_tile_order")[1].split("// @shared end hopper_tile_order")[0]
    region = region.split("\n", 1)[1]  # the lines after the marker's own
    program = tmp_path / "order.cpp"
    program.write_text(f"""#include <algorithm>
#include <cstdio>
#include <cstdlib>
using std::min;
int main(int argc, char** argv) {{
  const int M = std::atoi(argv[1]), N = std::atoi(argv[2]), GROUP_M = std::atoi(argv[3]);
  constexpr int kBM = {bm}, kTileN = {bn};
{region}
  for (int tile = 0; tile < tiles; ++tile) {{
    int m0, n0;
    origin(tile, m0, n0);
    std::printf("%d %d\\n", m0 / kBM, n0 / kTileN);
  }}
}}
""")
    exe = tmp_path / "order"
    subprocess.run(["g++", "-std=c++17", "-O1", str(program), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe), str(m), str(n), str(group)], check=True, capture_output=True, text=True).stdout
    return [tuple(int(v) for v in line.split()) for line in out.splitlines()]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
@pytest.mark.parametrize("m,n,group", [(2048, 14336, 8), (2048, 14336, 16), (1664, 4096, 8), (1000, 1300, 4),
                                       (128, 1024, 16)])
def test_the_models_tile_order_is_the_kernels(tmp_path, m, n, group):
    ours = list(model.tile_order(-(-m // 128), -(-n // 256), group))
    assert ours == kernel_tile_order(tmp_path, m, n, group)
    assert sorted(ours) == sorted({(r, c) for r in range(-(-m // 128)) for c in range(-(-n // 256))})


def test_operands_are_read_once_when_they_fit_and_again_when_a_group_leaves_b_behind():
    m, n, k = 2048, 14336, 4096
    least = (m * k + n * k) * 2
    # All 16 tile rows in one group: each B slice is read once and shared by the rows running together.
    assert model.dram_bytes(m, n, k, 128, 256, 64, 16, 132, 50e6) == least
    # Two groups of 8: the second group reads every B slice again (the first group's are long evicted).
    assert model.dram_bytes(m, n, k, 128, 256, 64, 8, 132, 50e6) > 1.8 * n * k * 2
    # With room for everything nothing is read twice, whatever the order.
    assert model.dram_bytes(m, n, k, 128, 256, 64, 1, 132, 1e12) == least
