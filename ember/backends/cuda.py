"""``torch.backends.cuda`` without CUDA: not built; ``matmul``'s TF32 and reduced-precision
flags and the scaled-dot-product-attention switches are settable and readable as in PyTorch
(ember's attention always computes the math path)."""
import contextlib
import enum
import warnings

from . import _precision


def is_built():
    return False


class _Matmul:
    """``torch.backends.cuda.matmul``: ``allow_tf32`` and ``fp32_precision`` are views of the
    float32 matmul precision; any other name is an AttributeError, as in PyTorch."""

    _REDUCED = ("allow_fp16_reduced_precision_reduction",
                "allow_bf16_reduced_precision_reduction")

    def __init__(self):
        object.__setattr__(self, "_values", {
            "allow_fp16_reduced_precision_reduction": True,
            "allow_bf16_reduced_precision_reduction": True,
            "allow_fp16_accumulation": False})

    def __getattr__(self, name):
        if name == "allow_tf32":
            return _precision.get_float32_matmul_precision() != "highest"
        if name == "fp32_precision":
            return _precision.matmul_fp32_precision()
        if name in self._values:
            return self._values[name]
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name, value):
        if name == "allow_tf32":
            if not isinstance(value, bool):
                raise RuntimeError(f"set_allow_tf32_cublas expects a bool, but got "
                                   f"{type(value).__name__}")
            _precision.set_float32_matmul_precision("high" if value else "highest")
        elif name == "fp32_precision":
            _precision.set_matmul_fp32_precision(value)
        elif name in self._REDUCED:
            flags = value if isinstance(value, (tuple, list)) else (value,)
            if not flags or not all(isinstance(flag, bool) for flag in flags):
                raise TypeError(f"{name} expects a bool or a tuple/list of bools, but got "
                                f"{type(value)}")
            self._values[name] = flags[0]
        elif name == "allow_fp16_accumulation":
            if not isinstance(value, bool):
                raise RuntimeError(f"set_allow_fp16_accumulation_cublas expects a bool, but got "
                                   f"{type(value).__name__}")
            self._values[name] = value
        else:
            raise AttributeError("Unknown attribute " + name)


matmul = _Matmul()


class SDPBackend(enum.IntEnum):
    """The attention kernels PyTorch chooses among (ember computes ``MATH``)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_SDP = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def _sdp_switch(kind):
    """The reader and the setter of one attention kernel's switch: ``{kind}_sdp_enabled()`` and
    ``enable_{kind}_sdp(enabled)``."""
    def is_enabled():
        return _SDP[kind]

    def enable(enabled):
        _SDP[kind] = bool(enabled)

    is_enabled.__name__ = is_enabled.__qualname__ = f"{kind}_sdp_enabled"
    enable.__name__ = enable.__qualname__ = f"enable_{kind}_sdp"
    return is_enabled, enable


flash_sdp_enabled, enable_flash_sdp = _sdp_switch("flash")
mem_efficient_sdp_enabled, enable_mem_efficient_sdp = _sdp_switch("mem_efficient")
math_sdp_enabled, enable_math_sdp = _sdp_switch("math")
cudnn_sdp_enabled, enable_cudnn_sdp = _sdp_switch("cudnn")


def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
               enable_cudnn=True):
    """Deprecated in PyTorch (FutureWarning, at the call): switch attention kernels inside a
    ``with`` block."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see "
                  "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=2)
    return _switched_kernels(enable_flash, enable_math, enable_mem_efficient, enable_cudnn)


@contextlib.contextmanager
def _switched_kernels(enable_flash, enable_math, enable_mem_efficient, enable_cudnn):
    saved = dict(_SDP)
    _SDP.update(flash=bool(enable_flash), math=bool(enable_math),
                mem_efficient=bool(enable_mem_efficient), cudnn=bool(enable_cudnn))
    try:
        yield {}
    finally:
        _SDP.update(saved)


class SDPAParams:
    """The arguments of one scaled_dot_product_attention call, as the ``can_use_*`` checks
    take them."""

    def __init__(self, query, key, value, attn_mask, dropout, is_causal, enable_gqa=False):
        self.query = query
        self.key = key
        self.value = value
        self.attn_mask = attn_mask
        self.dropout = dropout
        self.is_causal = is_causal
        self.enable_gqa = enable_gqa


def can_use_flash_attention(params, debug=False):
    """Whether the fused flash kernel could run these arguments: never without CUDA."""
    return False


def can_use_efficient_attention(params, debug=False):
    """Whether the memory-efficient kernel could run these arguments: never without CUDA."""
    return False


def can_use_cudnn_attention(params, debug=False):
    """Whether cuDNN's attention kernel could run these arguments: never without CUDA."""
    return False
