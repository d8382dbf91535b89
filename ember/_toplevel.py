"""torch's top-level names that are other ember functions under another spelling: the functional
forms of in-place methods (``torch.relu_(x)`` is ``x.relu_()``), nn.functional ops PyTorch also
exports at the top, constants, and small queries about types and threads."""
import builtins
import enum
import importlib
import math
import warnings

import numpy as np

from . import _dtype, _factories, _threads, ops
from ._layout import contiguous_format
from ._storage import TypedStorage, UntypedStorage, mapped_bytes
from ._streams import Event, Stream  # noqa: F401
from .autograd import anomaly_mode
from .io.torch_files import PyTorchFileReader  # noqa: F401
from .jit import Future, fork, wait  # noqa: F401
from .ops.decompositions import (  # noqa: F401
    ormqr, cholesky_inverse, cholesky_solve, geqrf, householder_product as orgqr, lu_legacy as lu, lu_solve_legacy as lu_solve, lu_unpack,
    matrix_exp, pinverse, qr_legacy as qr, svd_legacy as svd, triangular_solve,
    eig_removed as eig, lstsq_removed as lstsq, matrix_rank_removed as matrix_rank,
    solve_removed as solve, symeig_removed as symeig)
from .nn import functional as F
from .ops.spectral import istft, stft  # noqa: F401
from .tensor import Tensor, warn_once


class ScriptModule:
    """``torch.ScriptModule`` (torch._C's): the compiled object behind a scripted module. ember
    compiles nothing, so no value is one (annotations and isinstance checks name it)."""

    def __init__(self, *args, **kwargs):
        raise TypeError("ScriptModule: ember has no TorchScript compilation units to build one "
                        "from (torch.jit.script returns the module itself)")


pi = math.pi
e = math.e
inf = math.inf
nan = math.nan
newaxis = None

# ``torch.name(input, ...)`` is ``input.name(...)`` for these.
_METHOD_FORMS = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "detach", "detach_", "erf_", "erfc_",
    "exp2_", "exp_", "expm1_", "fill_", "floor_", "frac_", "get_device", "index_put_",
    "is_inference", "is_signed", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_",
    "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_", "sigmoid_",
    "sin_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_", "fix_",
    "sinc_", "gcd_", "lcm_", "ldexp_", "addmv_", "resolve_conj",
    "resolve_neg", "is_conj", "is_neg", "adjoint", "fix", "split_with_sizes",
    "unsafe_chunk", "unsafe_split", "storage_offset", "resize_as_", "conj_physical_", "i0_",
    "unsafe_split_with_sizes",
)


def _method_form(name):
    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``input.{name}(...)`` (PyTorch's ``torch.{name}``)."
    return function


globals().update({name: _method_form(name) for name in _METHOD_FORMS})

adaptive_avg_pool1d = F.adaptive_avg_pool1d
adaptive_max_pool1d = F.adaptive_max_pool1d
celu_ = F.celu_
selu_ = F.selu_
rrelu = F.rrelu
rrelu_ = F.rrelu_
threshold_ = F.threshold_
hardshrink = F.hardshrink
channel_shuffle = F.channel_shuffle
conv_transpose3d = F.conv_transpose3d
rms_norm = F.rms_norm
pdist = F.pdist
trapz = ops.trapezoid
# PyTorch's spellings of gt, ge, lt and le (ops has them for the Tensor methods).
greater = ops.greater
greater_equal = ops.greater_equal
less = ops.less
less_equal = ops.less_equal


def rsub(input, other, alpha=1):
    """``other - alpha * input``, promoted as ``sub`` (a number ``other`` too)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return ops.sub(other, input, alpha=alpha)


def scalar_tensor(s, dtype=None, device=None, requires_grad=False, layout=None,
                  pin_memory=False):
    """A 0-dim tensor of the number ``s``, in the default float dtype unless given."""
    return _factories.full((), s, dtype=dtype or _dtype.get_default_dtype(), device=device,
                           requires_grad=requires_grad, layout=layout, pin_memory=pin_memory)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """``obj`` as a tensor, sharing memory with a tensor or NumPy array unless ``copy`` or a
    conversion asks for a new one (``copy=False`` refuses to copy). An unspecified
    ``requires_grad`` follows a tensor ``obj``'s, and a copy stays in its graph (PyTorch 2.13);
    ``requires_grad=False`` detaches a graph result and clears a leaf's flag in place."""
    is_tensor = isinstance(obj, Tensor)
    if requires_grad is None:
        requires_grad = is_tensor and obj.requires_grad
        if requires_grad and obj.grad_fn is None:
            warn_once(_ASARRAY_REQUIRES_GRAD_WARNING)
    if copy:
        if is_tensor:
            _factories._check_device(device)
            made = obj.to(dtype=_factories._dtype_argument("tensor", dtype), copy=True)
        else:
            made = _factories._copied(obj, dtype=dtype, device=device)
    else:
        made = _factories.as_tensor(obj, dtype=dtype, device=device)
        source = obj._data if is_tensor else obj
        if copy is False and hasattr(source, "__array_interface__") and \
                made._data.__array_interface__["data"][0] != \
                source.__array_interface__["data"][0]:
            raise ValueError(f"asarray(): copy=False, but the conversion to {made.dtype} needs "
                             f"a copy")
    if requires_grad:
        return made._require_grad_on_creation()
    if made.grad_fn is not None:
        return made.detach()
    if made.requires_grad:
        made.requires_grad_(False)
    return made


_ASARRAY_REQUIRES_GRAD_WARNING = (
    "torch.asarray: unspecified requires_grad now defaults to obj.requires_grad instead of "
    "False. Pass requires_grad=False explicitly to get the old behavior and silence this "
    "warning.")


def result_type(tensor1, tensor2):
    """The dtype an op of ``tensor1`` and ``tensor2`` (tensors or numbers) computes in."""
    tensors, zero_dim, numbers = [], [], []
    for operand in (tensor1, tensor2):
        if isinstance(operand, Tensor):
            kind = tensors if operand.dim() else zero_dim
            kind.append(operand.dtype)
        else:
            numbers.append(operand)
    return _dtype.result_type(tensors, zero_dim, numbers)


def can_cast(from_, to):
    """Whether PyTorch's type promotion may cast ``from_`` to ``to``: never float to integer
    or bool, never a number to bool."""
    source, target = _dtype.to_dtype(from_), _dtype.to_dtype(to)
    return source._category <= target._category


def typename(obj):
    """The type's name as PyTorch prints it: ``torch.FloatTensor`` for a tensor, else
    ``module.QualifiedName`` (the module left out for builtins)."""
    if isinstance(obj, Tensor):
        return obj.type()
    kind = obj if isinstance(obj, type) else type(obj)
    module = getattr(obj, "__module__", None) or kind.__module__
    name = getattr(obj, "__qualname__", None) or kind.__qualname__
    return name if module in ("", "builtins") else f"{module}.{name}"


def is_storage(obj):
    """Whether ``obj`` is a storage (``tensor.untyped_storage()``, a TypedStorage)."""
    return isinstance(obj, (UntypedStorage, TypedStorage))


_settings = {"interop_threads": None, "warn_always": False}


def set_num_interop_threads(num):
    """Recorded for get_num_interop_threads (ember runs ops in the caller's thread)."""
    if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
        raise RuntimeError("Expected num_threads to be positive")
    _settings["interop_threads"] = num


def get_num_interop_threads():
    return _settings["interop_threads"] or _threads.get_num_threads()


def set_flush_denormal(mode):
    """False: NumPy offers no switch to flush denormals, so the mode stays as it is."""
    return False


def set_warn_always(b):
    _settings["warn_always"] = bool(b)


def is_warn_always_enabled():
    return _settings["warn_always"]


def _deprecated_range(start=0, end=None, step=1, *, out=None, dtype=None, device=None,
                      requires_grad=False, layout=None, pin_memory=False):
    """PyTorch's deprecated ``range``: ``start`` to ``end`` inclusive by ``step``, in the default
    float dtype unless given (``arange`` excludes ``end``)."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because its "
                  "behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    count = math.floor((end - start) / step) + 1
    values = start + step * _factories.arange(count, dtype=_dtype.float64)
    return values.to(dtype or _dtype.get_default_dtype()).requires_grad_(requires_grad)


def nuclear_norm(input, dim=None, keepdim=False, *, dtype=None):
    """The sum of singular values (PyTorch's deprecated spelling of linalg.matrix_norm's 'nuc')."""
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It "
                  "will be removed in a future PyTorch release. Please use "
                  "`linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead", UserWarning,
                  stacklevel=2)
    return ops.norm(input, "nuc", dim=(-2, -1) if dim is None else dim, keepdim=keepdim,
                    dtype=dtype)


def _assert(condition, message):
    """``torch._assert``: ``assert condition, message`` that also works where asserts are
    stripped (torchvision's models call it)."""
    if not condition:
        raise AssertionError(message)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with a DLPack producer: an object with ``__dlpack__`` (a NumPy
    array, another framework's CPU tensor) or a capsule from ``to_dlpack`` (NumPy marks the
    memory of such an unversioned capsule read-only)."""
    if hasattr(ext_tensor, "__dlpack__"):
        return Tensor._wrap(np.from_dlpack(ext_tensor))
    array = np.from_dlpack(_Capsule(ext_tensor))
    if not array.flags.writeable:
        # An unversioned capsule carries no read-only flag and NumPy assumes one; PyTorch
        # writes through it, so the same memory is taken again without the flag.
        array = np.asarray(_WritableAlias(array))
    return Tensor._wrap(array)


class _Capsule:
    """A bare DLPack capsule as a producer NumPy takes (CPU memory, one use)."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, *args, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU


class _WritableAlias:
    """An array's memory offered to NumPy as writable, the array kept alive by this owner."""

    def __init__(self, array):
        self.array = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def get_device_module(device=None):
    """The module of ``device``'s type (``ember.cpu`` for the CPU, the default): ember's
    modules for cuda, mps and xpu answer that no such device is there."""
    name = getattr(device, "type", device) or "cpu"
    if not isinstance(name, str):
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or "
                           f"None")
    kind = name.partition(":")[0]
    if kind not in ("cpu", "cuda", "mps", "xpu"):
        raise RuntimeError(f"Device '{kind}' does not have a corresponding module registered as "
                           f"'torch.{kind}'.")
    return importlib.import_module(f"{__package__}.{kind}")


def cond(pred, true_fn, false_fn, operands=()):
    """torch.cond run eagerly: ``true_fn(*operands)`` if ``pred`` (a Python bool or number, or
    a one-element tensor) holds, else ``false_fn(*operands)``; gradients flow through the
    branch taken."""
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got "
                               f"{pred}.")
        pred = bool(pred.item())
    elif not isinstance(pred, (bool, int, float)):
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError(f"Expect operands to be a tuple of possibly nested dict/list/tuple "
                           f"that only consists of tensor leaves, but got {operands}.")
    return (true_fn if pred else false_fn)(*operands)


def sym_int(a):
    """int(a) rounded toward zero, as torch.sym_int of a plain Python number."""
    return math.trunc(a) if isinstance(a, float) else int(a)


def sym_float(a):
    return float(a)


def sym_max(a, b):
    """max(a, b), a float when either is (torch.sym_max's promotion of Python numbers)."""
    larger = b if b > a else a
    return float(larger) if isinstance(a, float) or isinstance(b, float) else larger


def sym_min(a, b):
    """min(a, b), a float when either is."""
    smaller = b if b < a else a
    return float(smaller) if isinstance(a, float) or isinstance(b, float) else smaller


def sym_not(a):
    return not a


def sym_ite(b, t, f):
    """``t if b else f``."""
    return t if b else f


def sym_sum(args):
    return sum(args)


def sym_sqrt(a):
    """The square root of a number (or one-element tensor) as a Python float."""
    return math.sqrt(a)


class SymInt:
    """The type of a symbolic int under tracing (torch.SymInt): ember never traces, so no value
    is one; it exists for annotations and ``isinstance`` checks."""

    def __init__(self, node):
        self.node = node


class SymFloat:
    """The type of a symbolic float under tracing; see SymInt."""

    def __init__(self, node):
        self.node = node


class SymBool:
    """The type of a symbolic bool under tracing; see SymInt."""

    def __init__(self, node):
        self.node = node


class AcceleratorError(RuntimeError):
    """An error an accelerator reports (never raised on the CPU)."""


# What PyTorch's CPU build reports it was compiled with: LAPACK, MKL, OpenMP and spectral ops
# are there (ember's linalg, threads and fft run on NumPy's and SciPy's).
has_lapack = True
has_mkl = True
has_openmp = True
has_spectral = True
legacy_contiguous_format = contiguous_format


def is_distributed(input):
    """Whether ``input`` is a distributed tensor: never (PyTorch's CPU answer)."""
    return False


def init_num_threads():
    """Nothing to set up: ember's thread pool starts with the process."""
    return None


def compiled_with_cxx11_abi():
    return True


def is_vulkan_available():
    return False


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly detection on or off for the whole process (``detect_anomaly`` scopes it)."""
    anomaly_mode._set(enabled, check_nan)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """A tensor of ``size`` whose dimensions lie in memory in the order ``physical_layout``
    (outermost first); ember fills it with zeros (PyTorch leaves it uninitialised)."""
    shape, order = tuple(size), tuple(physical_layout)
    if len(shape) != len(order):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(shape)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    for index, dim in enumerate(order):
        if not 0 <= dim < len(shape):
            raise RuntimeError(f"Dimension out of range (expected to be between 0 and "
                               f"{len(shape) - 1}, but got {dim} at index {index}).  NB: "
                               f"negative dims not currently supported; file an issue if you "
                               f"want it.")
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    physical = _factories.empty([shape[dim] for dim in order], dtype=dtype, layout=layout,
                                device=device, pin_memory=pin_memory)
    inverse = sorted(builtins.range(len(order)), key=order.__getitem__)
    result = physical.permute(inverse)
    return result.requires_grad_() if requires_grad else result


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dimension but ``dim``, kept as size-1 dimensions
    (weight normalisation's norm); ``dim=-1``: the norm of all of ``v``."""
    if isinstance(pow, bool) or not isinstance(pow, int):
        raise TypeError(f"norm_except_dim(): argument 'pow' (position 2) must be int, not "
                        f"{type(pow).__name__}")
    if dim == -1:
        return ops.vector_norm(v, pow)
    v.size(dim)  # PyTorch's IndexError for a dim out of range
    kept = dim % v.dim()
    others = tuple(axis for axis in builtins.range(v.dim()) if axis != kept)
    return ops.vector_norm(v, pow, others, keepdim=True)


# The tags of PyTorch's operators (``torch.library.custom_op(..., tags=...)``), by value.
Tag = enum.IntEnum("Tag", [
    ("core", 0), ("cudagraph_unsafe", 1), ("data_dependent_output", 2),
    ("dynamic_output_shape", 3), ("flexible_layout", 4), ("generated", 5), ("inplace", 6),
    ("inplace_view", 7), ("maybe_aliasing_or_mutating", 8), ("needs_contiguous_strides", 9),
    ("needs_exact_strides", 10), ("needs_fixed_stride_order", 11),
    ("nondeterministic_bitwise", 12), ("nondeterministic_seeded", 13), ("out", 14),
    ("out_variant", 15), ("pointwise", 16), ("pt2_compliant_tag", 17), ("reduction", 18),
    ("view_copy", 19)], module=__name__)
Tag.__str__ = enum.Enum.__str__  # "Tag.core", as PyTorch's enum prints


def to_dlpack(tensor):
    """A DLPack capsule of ``tensor``'s memory (for a library that takes capsules)."""
    return tensor.__dlpack__()


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None,
              pin_memory=False, requires_grad=False):
    """A 1-D tensor of the first ``size`` elements stored in a binary file: mapped (writes
    reach the file) when ``shared``, else a private copy."""
    target = _dtype.to_dtype(dtype) if dtype is not None else _dtype.get_default_dtype()
    numpy_dtype = target.numpy
    values = mapped_bytes(filename, shared, size * numpy_dtype.itemsize).view(numpy_dtype)
    result = Tensor._wrap(values)
    return result.requires_grad_() if requires_grad else result


def while_loop(cond_fn, body_fn, carried_inputs):
    """``carried_inputs`` passed through ``body_fn`` while ``cond_fn`` of them holds, run eagerly
    (torch.while_loop's semantics without compilation)."""
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list, got {type(carried_inputs)}")
    carried = tuple(carried_inputs)
    while bool(cond_fn(*carried)):
        carried = body_fn(*carried)
        carried = tuple(carried) if isinstance(carried, (tuple, list)) else (carried,)
    return carried


# ``range`` is bound by name only at the end, so this module's own code keeps the builtin.
globals()["range"] = _deprecated_range

__all__ = sorted(_METHOD_FORMS + (
    "_assert", "adaptive_avg_pool1d", "nuclear_norm", "adaptive_max_pool1d", "asarray", "can_cast", "celu_",
    "channel_shuffle", "cholesky_inverse", "cholesky_solve", "cond", "lu", "lu_solve", "lu_unpack",
    "triangular_solve", "conv_transpose3d", "e", "from_dlpack", "get_device_module", "get_num_interop_threads", "greater",
    "geqrf", "greater_equal", "hardshrink", "inf", "is_storage", "is_warn_always_enabled", "less",
    "less_equal", "matrix_exp", "nan", "newaxis", "orgqr", "pdist", "pi", "pinverse", "qr",
    "range",
    "result_type",
    "rms_norm", "rrelu", "rrelu_",
    "rsub", "scalar_tensor", "selu_", "set_flush_denormal", "set_num_interop_threads",
    "set_warn_always", "stft", "istft", "svd", "sym_float", "sym_int", "sym_ite", "sym_max",
    "sym_min", "sym_not", "sym_sum", "threshold_", "trapz", "typename",
    "eig", "lstsq", "matrix_rank", "solve", "symeig", "Event", "Stream", "SymBool", "SymFloat",
    "SymInt", "AcceleratorError", "compiled_with_cxx11_abi", "empty_permuted", "has_lapack",
    "has_mkl", "has_openmp", "has_spectral", "init_num_threads", "is_distributed",
    "is_vulkan_available", "legacy_contiguous_format", "norm_except_dim", "set_anomaly_enabled",
    "sym_sqrt", "ormqr", "to_dlpack", "from_file", "while_loop", "fork", "wait", "Future", "Tag", "PyTorchFileReader",
    "ScriptModule"))
