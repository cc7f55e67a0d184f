"""matmul: C = A B (+ bias) (+ residual). Ops `linear` (F.linear's y = x W^T + b, x and the weight taken as they
are: B = W^T K-major) and `matmul` (a @ b + bias); the bias and a residual go to the kernel (its epilogue adds
them); routes: F.linear and torch.addmm (GPT-2's Conv1D, whose weight is already [K, N]).

A fusion too: a block's projection and the residual add after it (h = x + proj(a)) are one kernel call inside
torch.compile. No module or function computes the pair, so `graph_pass` rewrites inductor's post-grad graph
(installed by `_fusions.py`, as add_rmsnorm's):
  add(linear(x, W, b), r)            becomes    linear(x, W, b, r)
  add(view(matmul(a, B, bias)), r)   becomes    view(matmul(a, B, bias, r))     (GPT-2's Conv1D reshapes after)
The GEMM then reads r in its epilogue, where the add would read the GEMM's output and r and write h: the GEMM's
output makes no round trip through memory. Eager (uncompiled) models keep the add apart.
"""
import torch
import torch.nn.functional as F

from .._op import Op, _orig, _rows, op
from .add_rmsnorm import _val

KIND = "matmul"


def _linear_eager(x, weight, bias, residual=None):
    y = _orig["linear"](x, weight, bias)
    return y if residual is None else y + residual


def _matmul_eager(a, b, bias, residual=None):
    c = a @ b if bias is None else _orig["addmm"](bias, a, b)
    return c if residual is None else c + residual.reshape(c.shape)


def _transposed(weight):
    """Whether the linear op runs y^T = W x^T: where W's rows (the outputs) are not a multiple of 8, x W^T would have
    rows no GEMM kernel stores aligned (GPT-2's vocabulary, 50257); the catalogue's linear form 2, else 1."""
    return weight.shape[0] % 8 != 0


def _bias(bias, like):
    """The bias as the kernel takes it (kernel_abi.h: bias[N], the operands' dtype, contiguous), else None."""
    return None if bias is None or bias.dtype != like.dtype else bias.contiguous()


def _residual(residual, like, m, n):
    """The residual as the kernel takes it (kernel_abi.h: [M, N] row-major, the operands' dtype), else None."""
    if residual is None or residual.dtype != like.dtype or residual.numel() != m * n:
        return None
    return residual.contiguous().reshape(m, n)


def _linear_run(k, x, weight, bias, residual=None):
    # y = x W^T + b (+ r) with x and W [N, K] taken as they are, no copy of either: B = W^T is K-major
    # (kernel_abi.h), the output row-major, the bias and residual added in the kernel's epilogue. Form 2
    # (_transposed): y^T = W x^T, B = x^T K-major, y handed back as y^T's transposed view, bias and residual added
    # after.
    xr, w = _rows(x), weight.contiguous()
    fused_bias = fused_res = None
    if _transposed(w):
        y = torch.empty(w.shape[0], xr.shape[0], dtype=x.dtype, device=x.device)
        k([w, xr.t()], [y])
        y = y.t()
    else:
        fused_bias, fused_res = _bias(bias, x), _residual(residual, x, xr.shape[0], w.shape[0])
        y = torch.empty(xr.shape[0], w.shape[0], dtype=x.dtype, device=x.device)
        k([xr, w.t()] + [t for t in (fused_bias, fused_res) if t is not None], [y])
    if bias is not None and fused_bias is None:
        y += bias
    y = y.reshape(*x.shape[:-1], weight.shape[0])
    return y + residual if residual is not None and fused_res is None else y


def _linear_fake(x, weight, bias, residual=None):
    # The same layout as the kernel's result: row-major, or form 2's y^T contiguous, returned transposed.
    m = x.numel() // x.shape[-1] if x.shape[-1] else 0
    if _transposed(weight):
        return x.new_empty(weight.shape[0], m).t().reshape(*x.shape[:-1], weight.shape[0])
    return x.new_empty(*x.shape[:-1], weight.shape[0])


def _matmul_run(k, a, b, bias, residual=None):
    m, n = a.shape[0], b.shape[1]
    c = torch.empty(m, n, dtype=a.dtype, device=a.device)
    kmajor = b.stride(0) == 1 and b.stride(1) >= b.shape[0] and b.shape[1] > 1  # b = W^T as it is (kernel_abi.h)
    fused = _bias(bias, a) if bias is not None and bias.shape == (n,) else None  # addmm's bias may broadcast
    res = _residual(residual, a, m, n)
    k([a.contiguous(), b if kmajor else b.contiguous()] + [t for t in (fused, res) if t is not None], [c])
    if bias is not None and fused is None:
        c = c + bias
    return c + residual.reshape(m, n) if residual is not None and res is None else c


OPS = [
    Op("linear", KIND, "linear(Tensor x, Tensor weight, Tensor? bias, Tensor? residual=None) -> Tensor",
       _linear_eager, _linear_run,
       lambda x, w, b, r=None: (x.numel() > 0 and w.dim() == 2 and x.shape[-1] == w.shape[1]
                                and (b is None or b.shape == (w.shape[0],))
                                and (r is None or r.shape == (*x.shape[:-1], w.shape[0]))),
       _linear_fake, 4),
    Op("matmul", KIND, "matmul(Tensor a, Tensor b, Tensor? bias, Tensor? residual=None) -> Tensor",
       _matmul_eager, _matmul_run,
       lambda a, b, bias, r=None: (a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[0] and a.numel() > 0
                                   and (r is None or r.numel() == a.shape[0] * b.shape[1])),
       lambda a, b, bias, r=None: a.new_empty(a.shape[0], b.shape[1]), 4),
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


# ---- the graph pass: the residual add into the GEMM's epilogue ----------------------------------------

def _fusable(gemm, add, residual):
    """Whether add = gemm + residual can be the GEMM's epilogue: the GEMM's result read by the add alone, and
    residual of its shape and dtype (no broadcast, no promotion)."""
    vg, va, vr = _val(gemm), _val(add), _val(residual)
    if not all(isinstance(v, torch.Tensor) for v in (vg, va, vr)) or len(gemm.users) != 1:
        return False
    return vg.shape == va.shape == vr.shape and vg.dtype == va.dtype == vr.dtype


def graph_pass(graph):
    """Rewrite every add of a GEMM's result and a residual of its shape into the GEMM with that residual (the
    module docstring's two patterns); returns how many. Runs after add_rmsnorm's pass (kinds.ALL's order): an
    add whose sum feeds an RMSNorm (every residual add of a pre-norm LLaMA) is already that fused kernel's, which
    reads the two terms and writes the sum anyway; this one takes the rest (GPT-2's adds, before LayerNorms)."""
    lin, mm = torch.ops.autokernel.linear.default, torch.ops.autokernel.matmul.default
    # Conv1D's x.view(size_out) is a reshape (or view) node in this graph.
    views = (torch.ops.aten.view.default, torch.ops.aten.reshape.default, torch.ops.aten._unsafe_view.default)
    count = 0
    for add in list(graph.nodes):
        if add.op != "call_function" or add.target is not torch.ops.aten.add.Tensor or add.kwargs:
            continue
        if len(add.args) != 2 or not all(isinstance(a, torch.fx.Node) for a in add.args):
            continue
        for g, r in (add.args, add.args[::-1]):
            w = _val(g.args[1]) if g.target is lin and len(g.args) == 3 else None
            if w is not None and not _transposed(w) and _fusable(g, add, r):
                with graph.inserting_before(add):
                    fused = graph.call_function(lin, (*g.args, r))
                fused.meta["val"] = _val(add)
                add.replace_all_uses_with(fused)
                graph.erase_node(add)
                graph.erase_node(g)
                count += 1
                break
            head = g.args[0] if g.target in views else None
            if (isinstance(head, torch.fx.Node) and head.target is mm and len(head.args) == 3
                    and len(head.users) == 1 and _fusable(g, add, r)):
                with graph.inserting_before(add):
                    fused = graph.call_function(mm, (*head.args, r))
                    viewed = graph.call_function(g.target, (fused, *g.args[1:]))
                fused.meta["val"], viewed.meta["val"] = _val(head), _val(add)
                add.replace_all_uses_with(viewed)
                graph.erase_node(add)
                graph.erase_node(g)
                graph.erase_node(head)
                count += 1
                break
    return count
