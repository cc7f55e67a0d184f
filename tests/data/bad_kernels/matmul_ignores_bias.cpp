// @autokernel type=matmul
// Right product in both B layouts, but the optional bias[N] (kernel_abi.h) never added: right on every shape without
// one, wrong on the catalogue's biased shapes (GPT-2's Conv1D, F.linear with a bias).
#define B_AT(B, k, n, N) ((k) * (B)->stride[0] + (n) * (B)->stride[1])
#define ADD_BIAS 0
#include "matmul_base.h"
extern "C" int ak_kernel(const ak_call* c) { return matmul(c); }
