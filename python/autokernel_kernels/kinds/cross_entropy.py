"""cross_entropy: the per-row loss of logits [M, V] against int64 targets, a negative target ignored.
Op `cross_entropy`; route: F.cross_entropy (with ignore_index and every reduction)."""
import torch
import torch.nn.functional as F

from .._op import Op, _orig, op

KIND = "cross_entropy"


def _cross_entropy_eager(logits, target):
    """Per-row loss in float32; a negative target is ignored (loss 0)."""
    loss = _orig["cross_entropy"](logits.float(), target.clamp(min=0), reduction="none")
    return torch.where(target < 0, torch.zeros_like(loss), loss)


def _cross_entropy_run(k, logits, target):
    loss = torch.empty(logits.shape[0], dtype=torch.float32, device=logits.device)
    k([logits.contiguous(), target.contiguous()], [loss])
    return loss


OPS = [
    Op("cross_entropy", KIND, "cross_entropy(Tensor logits, Tensor target) -> Tensor",
       _cross_entropy_eager, _cross_entropy_run,
       lambda logits, target: logits.dim() == 2 and target.shape == (logits.shape[0],) and target.dtype == torch.int64
       and target.device == logits.device and logits.shape[0] > 0,
       lambda logits, target: logits.new_empty(logits.shape[0], dtype=torch.float32), 1),
]


def _cross_entropy(original):
    def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                      reduction="mean", label_smoothing=0.0):
        simple = (weight is None and size_average is None and reduce is None and label_smoothing == 0.0
                  and input.dim() == 2 and target.dim() == 1 and target.dtype == torch.int64
                  and reduction in ("mean", "sum", "none"))
        if not simple:
            return original(input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing)
        t = torch.where(target == ignore_index, torch.full_like(target, -1), target)
        loss = op("cross_entropy")(input, t)
        if reduction == "none":
            return loss.to(input.dtype)
        total = loss.sum()
        return (total if reduction == "sum" else total / (t >= 0).sum()).to(input.dtype)
    return cross_entropy


FUNCTIONS = [(F, "cross_entropy", _cross_entropy)]
