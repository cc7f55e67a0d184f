// @autokernel type=convolution_3d
extern "C" int ak_kernel(const void*) { return 0; }
