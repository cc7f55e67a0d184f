// @autokernel type=rmsnorm
// A syntax error: the bench must show the compiler's own message.
extern "C" int ak_kernel(const ak_call* c) { return this_is_not_declared; }
