// @autokernel type=matmul
// Right product and bias in both B layouts, but the optional residual[M,N] (kernel_abi.h) never added: right on every
// shape without one, wrong on the catalogue's residual shapes (a projection and the residual add after it).
#define B_AT(B, k, n, N) ((k) * (B)->stride[0] + (n) * (B)->stride[1])
#define ADD_BIAS 1
#define ADD_RESIDUAL 0
#include "matmul_base.h"
extern "C" int ak_kernel(const ak_call* c) { return matmul(c); }
