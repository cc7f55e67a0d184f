"""skinny_gemm: y = x W^T + b with at most 64 rows of x, a decode step's linear layer (memory-bound: W is read
once). Op `skinny_linear` (F.linear's arguments, the weight taken as it is, the bias added after the kernel);
route: the F.linear calls it fits. Its wrapper wraps matmul's (a later kind in ALL wraps the earlier kinds'
wrappers of the same function), so it sees each call first and passes the rest on."""
import torch.nn.functional as F

from .._op import Op, _kernel, _rows, op
from .matmul import _linear_eager  # the formula is F.linear's, as for matmul's linear op

KIND = "skinny_gemm"
MAX_ROWS = 64  # the catalogue's M (src/catalog/skinny_gemm.cpp); more rows are matmul's


def _skinny_linear_run(k, x, weight, bias):
    a = _rows(x)
    y = a.new_empty(a.shape[0], weight.shape[0])
    k([a, weight.contiguous()], [y])
    if bias is not None:
        y += bias
    return y.reshape(*x.shape[:-1], weight.shape[0])


def _fits(x, weight, bias):
    return (x.dim() >= 1 and x.numel() > 0 and weight.dim() == 2 and x.shape[-1] == weight.shape[1]
            and x.numel() // x.shape[-1] <= MAX_ROWS and (bias is None or tuple(bias.shape) == (weight.shape[0],)))


OPS = [
    Op("skinny_linear", KIND, "skinny_linear(Tensor x, Tensor weight, Tensor? bias) -> Tensor",
       _linear_eager, _skinny_linear_run, _fits,
       lambda x, w, b: x.new_empty(*x.shape[:-1], w.shape[0]), 3),
]


def _linear(original):
    def linear(input, weight, bias=None):
        tensors = (input, weight) if bias is None else (input, weight, bias)
        if not _fits(input, weight, bias) or _kernel(KIND, *tensors) is None:
            return original(input, weight, bias)  # matmul's wrapper, or PyTorch's F.linear
        return op("skinny_linear")(input, weight, bias)
    return linear


FUNCTIONS = [(F, "linear", _linear)]
