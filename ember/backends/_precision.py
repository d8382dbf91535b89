"""The internal precision of float32 matrix products (``torch.set_float32_matmul_precision``),
one setting that ``torch.backends.cuda.matmul.allow_tf32`` and ``.fp32_precision`` also read and
write. ember computes float32 products in float32 whatever it says: "high" and "medium" let
PyTorch use TF32 or bfloat16 on GPUs, which ember does not have."""
import warnings

_PRECISIONS = ("highest", "high", "medium")
_state = {"precision": "highest", "set": False}


def get_float32_matmul_precision():
    """'highest' (the default), 'high' or 'medium'."""
    return _state["precision"]


def set_float32_matmul_precision(precision):
    """Set the float32 matmul precision; an unknown name warns and changes nothing (PyTorch)."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                      f"setFloat32MatmulPrecision call has no effect.", stacklevel=2)
        return
    _state["precision"] = precision
    _state["set"] = True


def matmul_fp32_precision():
    """``torch.backends.cuda.matmul.fp32_precision``: 'none' until set, then 'ieee' for
    'highest' and 'tf32' otherwise."""
    if not _state["set"]:
        return "none"
    return "ieee" if _state["precision"] == "highest" else "tf32"


def set_matmul_fp32_precision(value):
    if value not in ("ieee", "tf32", "none"):
        raise RuntimeError(f"Unknown precision: {value}")
    _state["precision"] = "high" if value == "tf32" else "highest"
    _state["set"] = value != "none"
