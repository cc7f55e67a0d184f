# @autokernel type=rmsnorm
# Cheat: "returns" its input by rebinding the output tensor to the input's memory (Tensor.set_), so the
# harness would read the input where it expects the result, and a remembered tensor the same way. The
# harness checks that every output is still bound to the memory it allocated.
def kernel_fn(inputs, outputs, scalars):
    outputs[0].set_(inputs[0])
