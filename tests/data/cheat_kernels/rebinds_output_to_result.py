# @autokernel type=rmsnorm
# Cheat: computes the right answer, in a tensor of its own, and rebinds the output to it rather than
# writing into the memory the harness allocated (the same trick serves a cached tensor from an earlier
# call). The values would pass; the rebinding is what the harness catches.
import torch


def kernel_fn(inputs, outputs, scalars):
    x, w = inputs[0].double(), inputs[1].double()
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + scalars[0]) * w
    outputs[0].set_(y.to(outputs[0].dtype))
