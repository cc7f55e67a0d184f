"""layernorm: y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim. Op `layer_norm`; route:
F.layer_norm."""
import torch
import torch.nn.functional as F

from .._op import Op, _last_dim, _orig, _rows, _same_fake, op

KIND = "layernorm"


def _layer_norm_eager(x, weight, bias, eps):
    return _orig["layer_norm"](x, (x.shape[-1],), weight, bias, eps)


def _layer_norm_run(k, x, weight, bias, eps):
    a = _rows(x)
    y = torch.empty_like(a)
    k([a, weight.contiguous(), bias.contiguous()], [y], [eps])
    return y.reshape(x.shape)


OPS = [
    Op("layer_norm", KIND, "layer_norm(Tensor x, Tensor weight, Tensor bias, float eps) -> Tensor",
       _layer_norm_eager, _layer_norm_run, lambda x, w, b, eps: _last_dim(x, w, b), _same_fake, 3),
]


def _layer_norm(original):
    def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
        if weight is None or bias is None or len(normalized_shape) != 1:
            return original(input, normalized_shape, weight, bias, eps)
        return op("layer_norm")(input, weight, bias, float(eps))
    return layer_norm


FUNCTIONS = [(F, "layer_norm", _layer_norm)]
