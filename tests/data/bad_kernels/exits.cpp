// @autokernel type=rmsnorm
// Says why on stderr and exits with code 3 (as a library's fatal error would): the caller reports
// a crash and quotes the reason.
#include <cstdio>
#include <cstdlib>

#include "rmsnorm_base.h"
extern "C" int ak_kernel(const ak_call* c) {
  std::fprintf(stderr, "kernel: the weight table is missing (%d inputs)\n", c->n_inputs);
  std::exit(3);
}
