"""reduce: the sum over the last dim. Op `row_sum`; route: torch.sum over the last dim (the tensor
method x.sum(-1) is not a module attribute, so it is not routed)."""
import torch

from .._op import Op, _rows, op

KIND = "reduce"


def _row_sum_eager(x):
    return x.sum(-1)


def _row_sum_run(k, x):
    a = _rows(x)
    y = torch.empty(a.shape[0], dtype=x.dtype, device=x.device)
    k([a], [y])
    return y.reshape(x.shape[:-1])


OPS = [
    Op("row_sum", KIND, "row_sum(Tensor x) -> Tensor",
       _row_sum_eager, _row_sum_run, lambda x: x.dim() >= 1 and x.numel() > 0,
       lambda x: x.new_empty(x.shape[:-1]), 1),
]


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _sum(original):
    def sum_(input, *args, **kwargs):
        dim = _arg(args, kwargs, 0, "dim")
        keepdim = _arg(args, kwargs, 1, "keepdim", False)
        if (not isinstance(input, torch.Tensor) or dim not in (-1, input.dim() - 1, [-1], (-1,)) or keepdim
                or kwargs.get("dtype") is not None or len(args) > 2):
            return original(input, *args, **kwargs)
        return op("row_sum")(input)
    return sum_


FUNCTIONS = [(torch, "sum", _sum)]
