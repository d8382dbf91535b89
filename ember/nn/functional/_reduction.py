"""The ``reduction`` argument of the losses ('none', 'mean', 'sum'), and its deprecated
size_average/reduce form (PyTorch's torch.nn._reduction)."""
import warnings


REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def legacy_reduction(size_average, reduce, reduction="mean", stacklevel=2):
    """Map the deprecated size_average/reduce pair to a reduction string, warning like PyTorch:
    from the loss function or module constructor that was given them (one place per loss, so
    the default filter shows it once per loss and message, not once per call site)."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='"
                  f"{from_legacy(size_average, reduce)}' instead.", stacklevel=stacklevel)
    return from_legacy(size_average, reduce)


def from_legacy(size_average, reduce):
    """The reduction string that a size_average/reduce pair means (None counts as True)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def apply_reduction(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def reduction_from(size_average, reduce, reduction):
    reduction = legacy_reduction(size_average, reduce, reduction, stacklevel=3)
    check_reduction(reduction)
    return reduction
