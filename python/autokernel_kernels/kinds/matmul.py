"""matmul: C = A B (+ bias). Ops `linear` (F.linear's y = x W^T + b, x and the weight taken as they are: B = W^T
K-major) and `matmul` (a @ b + bias); the bias goes to the kernel (its epilogue adds it); routes: F.linear and
torch.addmm (GPT-2's Conv1D, whose weight is already [K, N])."""
import torch
import torch.nn.functional as F

from .._op import Op, _orig, _rows, op

KIND = "matmul"


def _linear_eager(x, weight, bias):
    return _orig["linear"](x, weight, bias)


def _matmul_eager(a, b, bias):
    return a @ b if bias is None else _orig["addmm"](bias, a, b)


def _transposed(weight):
    """Whether the linear op runs y^T = W x^T: where W's rows (the outputs) are not a multiple of 8, x W^T would have
    rows no GEMM kernel stores aligned (GPT-2's vocabulary, 50257); the catalogue's linear form 2, else 1."""
    return weight.shape[0] % 8 != 0


def _bias(bias, like):
    """The bias as the kernel takes it (kernel_abi.h: bias[N], the operands' dtype, contiguous), else None."""
    return None if bias is None or bias.dtype != like.dtype else bias.contiguous()


def _linear_run(k, x, weight, bias):
    # y = x W^T + b with x and W [N, K] taken as they are, no copy of either: B = W^T is K-major (kernel_abi.h), the
    # output row-major, the bias added in the kernel's epilogue. Form 2 (_transposed): y^T = W x^T, B = x^T K-major,
    # y handed back as y^T's transposed view, the bias (per row of y^T) added after.
    xr, w = _rows(x), weight.contiguous()
    fused = None
    if _transposed(w):
        y = torch.empty(w.shape[0], xr.shape[0], dtype=x.dtype, device=x.device)
        k([w, xr.t()], [y])
        y = y.t()
    else:
        fused = _bias(bias, x)
        y = torch.empty(xr.shape[0], w.shape[0], dtype=x.dtype, device=x.device)
        k([xr, w.t()] + ([fused] if fused is not None else []), [y])
    if bias is not None and fused is None:
        y += bias
    return y.reshape(*x.shape[:-1], weight.shape[0])


def _linear_fake(x, weight, bias):
    # The same layout as the kernel's result: row-major, or form 2's y^T contiguous, returned transposed.
    m = x.numel() // x.shape[-1] if x.shape[-1] else 0
    if _transposed(weight):
        return x.new_empty(weight.shape[0], m).t().reshape(*x.shape[:-1], weight.shape[0])
    return x.new_empty(*x.shape[:-1], weight.shape[0])


def _matmul_run(k, a, b, bias):
    c = torch.empty(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)
    kmajor = b.stride(0) == 1 and b.stride(1) >= b.shape[0] and b.shape[1] > 1  # b = W^T as it is (kernel_abi.h)
    fused = _bias(bias, a) if bias is not None and bias.shape == (b.shape[1],) else None  # addmm's bias may broadcast
    k([a.contiguous(), b if kmajor else b.contiguous()] + ([fused] if fused is not None else []), [c])
    return c if bias is None or fused is not None else c + bias


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
