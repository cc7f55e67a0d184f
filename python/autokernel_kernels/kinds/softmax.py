"""softmax over the last dim. Op `softmax`; routes: F.softmax and torch.softmax."""
import torch
import torch.nn.functional as F

from .._op import Op, _orig, _rows, _same_fake, op

KIND = "softmax"


def _softmax_eager(x):
    return _orig["softmax"](x, -1)


def _softmax_run(k, x):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a], [y])
    return y.reshape(x.shape)


OPS = [
    Op("softmax", KIND, "softmax(Tensor x) -> Tensor",
       _softmax_eager, _softmax_run, lambda x: x.dim() >= 1 and x.numel() > 0, _same_fake, 1),
]


def _softmax(original):
    def softmax(input, dim=None, *args, **kwargs):
        if args or kwargs.get("dtype") is not None or dim not in (-1, input.dim() - 1):
            return original(input, dim, *args, **kwargs)
        return op("softmax")(input)
    return softmax


FUNCTIONS = [(F, "softmax", _softmax), (torch, "softmax", _softmax)]
