"""matmul: C = A B. Ops `linear` (F.linear's y = x W^T + b, the weight taken as it is) and `matmul`
(a @ b + bias); routes: F.linear and torch.addmm (GPT-2's Conv1D, whose weight is already [K, N])."""
import torch
import torch.nn.functional as F

from .._op import Op, _orig, _rows, op

KIND = "matmul"


def _linear_eager(x, weight, bias):
    return _orig["linear"](x, weight, bias)


def _matmul_eager(a, b, bias):
    return a @ b if bias is None else _orig["addmm"](bias, a, b)


def _linear_run(k, x, weight, bias):
    # y = x W^T with W [N, K] taken as it is (no transposed copy of the weight): y^T = W x^T is the
    # matmul ABI's A[M', K] B[K, N'] with A = W and B = x^T, a copy of the activation only.
    xt = _rows(x).t().contiguous()
    yt = torch.empty(weight.shape[0], xt.shape[1], dtype=x.dtype, device=x.device)
    k([weight.contiguous(), xt], [yt])
    if bias is not None:
        yt += bias[:, None]
    return yt.t().reshape(*x.shape[:-1], weight.shape[0])


def _linear_fake(x, weight, bias):
    # The same layout as the kernel's result: y^T contiguous, returned transposed.
    m = x.numel() // x.shape[-1] if x.shape[-1] else 0
    return x.new_empty(weight.shape[0], m).t().reshape(*x.shape[:-1], weight.shape[0])


def _matmul_run(k, a, b, bias):
    c = torch.empty(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)
    k([a.contiguous(), b.contiguous()], [c])
    return c if bias is None else c + bias


OPS = [
    Op("linear", KIND, "linear(Tensor x, Tensor weight, Tensor? bias) -> Tensor",
       _linear_eager, _linear_run,
       lambda x, w, b: (x.numel() > 0 and w.dim() == 2 and x.shape[-1] == w.shape[1]
                        and (b is None or b.shape == (w.shape[0],))),
       _linear_fake, 3),
    Op("matmul", KIND, "matmul(Tensor a, Tensor b, Tensor? bias) -> Tensor",
       _matmul_eager, _matmul_run,
       lambda a, b, bias: a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[0] and a.numel() > 0,
       lambda a, b, bias: a.new_empty(a.shape[0], b.shape[1]), 3),
]


def _linear(original):
    def linear(input, weight, bias=None):
        if input.dim() < 1 or weight.dim() != 2:
            return original(input, weight, bias)
        return op("linear")(input, weight, bias)
    return linear


def _addmm(original):
    def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
        if out is not None or beta != 1 or alpha != 1 or mat1.dim() != 2 or mat2.dim() != 2 or input.dim() != 1:
            kw = {"beta": beta, "alpha": alpha} if out is None else {"beta": beta, "alpha": alpha, "out": out}
            return original(input, mat1, mat2, **kw)
        return op("matmul")(mat1, mat2, input)
    return addmm


FUNCTIONS = [(F, "linear", _linear), (torch, "addmm", _addmm)]
