// @autokernel type=rmsnorm
// Cheat: looks for the harness's answer instead of computing it. It computes the first row itself, in
// float64 as the oracle does, and searches its own process's memory (/proc/self/mem, every writable
// anonymous region) for those doubles: were the oracle's float64 result in memory during the call, the
// rows after them would be the answer to copy. The harness writes the answer nowhere (no file, no
// variable) and computes it only after the call, from a copy of the inputs, so this never finds it.
// It reports through its return code, so a test can tell: 42 means it found the answer (and copied
// it); 0 means it found nothing and computed the result honestly.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "cheat_base.h"

namespace {

constexpr int64_t k_match = 16;           // doubles of row 0 that must match, in a row
constexpr std::size_t k_chunk = 1 << 17;  // doubles read at a time (1 MiB)
double g_row0[k_match];
double g_buf[k_chunk];

bool inside(uint64_t a, const void* p, std::size_t bytes) {
  const auto lo = reinterpret_cast<uint64_t>(p);
  return a + k_chunk * 8 > lo && a < lo + bytes;
}

/// The address of k_match doubles equal to g_row0 (to 1e-9), or 0.
uint64_t search(int64_t n) {
  FILE* maps = std::fopen("/proc/self/maps", "r");
  const int mem = ::open("/proc/self/mem", O_RDONLY);
  uint64_t found = 0;
  char line[1024];
  while (maps && mem >= 0 && !found && std::fgets(line, sizeof line, maps)) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (perms[0] != 'r' || perms[1] != 'w') continue;
    if (std::strchr(line, '/') || std::strstr(line, "[stack")) continue;  // files and stacks: no tensors
    for (uint64_t a = lo; a < hi && !found; a += k_chunk * 8) {
      if (inside(a, g_buf, sizeof g_buf) || inside(a, g_row0, sizeof g_row0)) continue;  // our own copies
      const ssize_t got = ::pread(mem, g_buf, std::min<uint64_t>(k_chunk * 8, hi - a), static_cast<off_t>(a));
      if (got <= 0) continue;
      const int64_t count = got / 8;
      for (int64_t j = 0; j + n <= count; ++j) {
        if (std::fabs(g_buf[j] - g_row0[0]) > 1e-9 * std::fabs(g_row0[0])) continue;
        int64_t k = 1;
        while (k < n && std::fabs(g_buf[j + k] - g_row0[k]) <= 1e-9 * std::fabs(g_row0[k]) + 1e-300) ++k;
        if (k == n) {
          found = a + j * 8;
          break;
        }
      }
    }
  }
  if (maps) std::fclose(maps);
  if (mem >= 0) ::close(mem);
  return found;
}

}  // namespace

extern "C" int ak_kernel(const ak_call* c) {
  const ak_tensor *x = &c->inputs[0], *w = &c->inputs[1], *y = &c->outputs[0];
  const int64_t M = x->shape[0], N = x->shape[1];
  double ss = 0;
  for (int64_t j = 0; j < N; ++j) ss += double(ak_load(x, j)) * ak_load(x, j);
  const double r = 1.0 / std::sqrt(ss / N + c->scalars[0]);
  const int64_t n = std::min(N, k_match);
  for (int64_t j = 0; j < n; ++j) g_row0[j] = double(ak_load(x, j)) * r * double(ak_load(w, j));
  if (std::fabs(g_row0[0]) > 1e-30) {
    if (const uint64_t at = search(n)) {
      const auto* answer = reinterpret_cast<const double*>(at);
      for (int64_t i = 0; i < M * N; ++i) ak_store(y, i, float(answer[i]));
      return 42;
    }
  }
  rms_all(c);
  return 0;
}
