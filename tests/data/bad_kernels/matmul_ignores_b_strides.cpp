// @autokernel type=matmul
// Right product and bias, but B read as if row-major (the ABI before K-major B): right on contiguous B, wrong wherever
// B is F.linear's weight as it is (b_kmajor), which the sweep's second case already is: stage 2.
#define B_AT(B, k, n, N) ((k) * (N) + (n))
#define ADD_BIAS 1
#include "matmul_base.h"
extern "C" int ak_kernel(const ak_call* c) { return matmul(c); }
