"""A model of a persistent GEMM's DRAM traffic under the tile order of the matmul and fused_mlp starters (groups of
GROUP_M tile rows advancing along N), to predict what bench/ncu_gemm.py will measure before it runs. No GPU.

The model: SMS blocks take tiles b, b + SMS, ... and walk K in lockstep, one BK-deep slice per step; at each step
every running block reads its tile's A slice (BM x BK) and B slice (BN x BK, or two of them for fused_mlp's gate and
up weights); an LRU cache of L2 bytes holds the slices, and a slice not in it is read from DRAM. Real blocks drift
apart and the H100's L2 is two partitions, so the numbers are for comparing tile orders, not for the last byte.

    python3 bench/l2_traffic_model.py 2048x14336x4096 2048x128256x4096 --group 1,4,8,16,32
"""
import argparse
from collections import OrderedDict


def tile_order(tiles_m, tiles_n, group):
    """(tile row, tile column) of each tile in the starters' order (hopper_tile_order)."""
    per_group = group * tiles_n
    for tile in range(tiles_m * tiles_n):
        first_m = (tile // per_group) * group
        rows = min(tiles_m - first_m, group)
        yield first_m + (tile % per_group) % rows, (tile % per_group) // rows


def dram_bytes(m, n, k, bm, bn, bk, group, sms, l2, elem=2):
    tiles = list(tile_order(-(-m // bm), -(-n // bn), group))
    a_bytes, b_bytes = bm * bk * elem, bn * bk * elem
    cache, used, read = OrderedDict(), 0, 0
    kt = -(-k // bk)
    for wave in range(0, len(tiles), sms):
        running = tiles[wave:wave + sms]
        for s in range(kt):
            for tm, tn in running:
                for key, size in ((("a", tm, s), a_bytes), (("b", tn, s), b_bytes)):
                    if key in cache:
                        cache.move_to_end(key)
                        continue
                    read += size
                    cache[key] = size
                    used += size
                    while used > l2:
                        used -= cache.popitem(last=False)[1]
    return read


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("shapes", nargs="+", help="MxNxK (M tokens; fused_mlp's gate/up GEMM: N = 2 F with --bn 256)")
    p.add_argument("--group", default="1,4,8,16,32")
    p.add_argument("--bm", type=int, default=128)
    p.add_argument("--bn", type=int, default=256)
    p.add_argument("--bk", type=int, default=64)
    p.add_argument("--sms", type=int, default=132)
    p.add_argument("--l2-mb", type=float, default=50.0)
    a = p.parse_args()
    groups = [int(g) for g in a.group.split(",")]
    print(f"DRAM MB read (model: {a.sms} blocks in lockstep, LRU {a.l2_mb:g} MB, tile {a.bm}x{a.bn}x{a.bk}); "
          "min = A and B read once")
    print(f"{'shape':<20} {'min':>8} " + " ".join(f"{'g' + str(g):>8}" for g in groups))
    for shape in a.shapes:
        m, n, k = (int(v) for v in shape.split("x"))
        least = (m * k + n * k) * 2 / 1e6
        cells = [dram_bytes(m, n, k, a.bm, a.bn, a.bk, g, a.sms, a.l2_mb * 1e6) / 1e6 for g in groups]
        print(f"{shape:<20} {least:8.1f} " + " ".join(f"{c:8.1f}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
