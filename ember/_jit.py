"""Optional compiled kernels (the ``jit`` extra, numba) for memory-bound loops that NumPy runs as
many passes. numba is imported on a kernel's first call, never by ``import ember``; without numba,
or with ``EMBER_JIT=0`` in the environment, or inside ``disabled()``, every kernel answers None
and its caller runs the NumPy path, which computes the same values."""
import contextlib
import os
import sys
import threading
import warnings

import numpy as np

from ember._threads import _state as _threads_state

_state = {"numba": None, "tried": False, "forced_off": 0}
# Parallel kernels loop with ``_jit.prange``: numba.prange once numba is loaded (numba reads the
# global when it compiles), plain range before, so kernel modules never import numba themselves.
prange = range
_lock = threading.Lock()


def _numba():
    """The numba module, or None when it is absent, refused by EMBER_JIT=0 or fails to load."""
    if not _state["tried"]:
        with _lock:
            if not _state["tried"]:
                if os.environ.get("EMBER_JIT", "1").strip() != "0":
                    # numba's import edits the warning filters (see _keeping_warning_registries).
                    saved = _save_registries()
                    first_load = "numba" not in sys.modules
                    try:
                        # numba is an optional extra (~0.3 s to import): loaded on first use.
                        import numba
                    except ImportError:
                        numba = None
                    finally:
                        _restore_registries(saved)
                    if numba is not None and first_load:
                        _allow_wide_vectors(numba)
                    _state["numba"] = numba
                    if numba is not None:
                        globals()["prange"] = numba.prange
                        globals()["float32_from_bits"] = _bitcast_intrinsic(numba)
                        for name, function in (("exp_float32", _exp_float32),
                                               ("row_max_float32", _row_max_float32)):
                            globals()[name] = numba.njit(function, inline="always",
                                                         nogil=True, error_model="numpy")
                _state["tried"] = True
    return _state["numba"]


def compiled_float32(kernel, *arrays):
    """``kernel``'s compiled form for C-contiguous float32 ``arrays`` of one shape, at least
    ``_COMPILED_MIN`` elements (below, a few NumPy passes cost what a kernel call does); None
    where the NumPy passes run."""
    if arrays[0].size < _COMPILED_MIN or not uniform_arrays(arrays, _FLOAT32_ONLY):
        return None
    return kernel.compiled()


_FLOAT32_ONLY = (np.dtype(np.float32),)
_COMPILED_MIN = 256


def uniform_arrays(arrays, dtypes):
    """Whether ``arrays`` are C-contiguous NumPy arrays of one shape and one dtype, among
    ``dtypes``: what the flat and row kernels take."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in dtypes:
        return False
    for array in arrays:
        if (type(array) is not np.ndarray or array.shape != first.shape
                or array.dtype != first.dtype or not array.flags.c_contiguous):
            return False
    return True


def float32_from_bits(bits):
    """The float32 whose IEEE-754 bits are the int32 ``bits``; inside kernels an LLVM bitcast
    (numba has none of its own), which keeps a loop that builds powers of two vectorisable."""
    return np.int32(bits).view(np.float32)


# exp for kernels: Cody-Waite reduction by ln 2 (ln 2 in two parts, n * _LN2_HIGH exact for
# |n| < 2^9) and Cephes' degree-6 polynomial for expf on [-ln 2 / 2, ln 2 / 2]; 2^n from bits.
_LOG2_E = np.float32(1.44269504088896341)
_LN2_HIGH = np.float32(0.693359375)
_LN2_LOW = np.float32(-2.12194440e-4)
_EXP_POLYNOMIAL = tuple(np.float32(value) for value in (
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1))
_EXP_LOWEST = np.float32(-87.33654475)  # ln of float32's smallest normal number
_EXP_HIGHEST = np.float32(88.72283905)  # ln of float32's largest number
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_INFINITY = np.float32(np.inf)


def _exp_float32(value):
    """exp of a float32 in float32 operations, within 2 ulp over float32's normal range, 0 below
    it, inf above; NaN stays NaN. Branch-free, so that a kernel's loop calling it vectorises
    (numba's own exp is a scalar call per element). Once numba is loaded, ``exp_float32`` is
    this function compiled, ``float32_from_bits`` an intrinsic usable only inside kernels."""
    # Below the range the argument becomes 0, not the lower bound: the result is replaced at the
    # end, and the bound's exp (float32's smallest normal) made the subnormals whose arithmetic
    # costs ~100 cycles each (a softmax row ending in masked -inf divides by its sum: 5x slower).
    # NaN fails the comparison too (a float-to-int conversion of NaN is undefined in LLVM); it
    # comes back at the end.
    clamped = value if value >= _EXP_LOWEST else _ZERO
    clamped = _EXP_HIGHEST if clamped > _EXP_HIGHEST else clamped
    power = np.floor(clamped * _LOG2_E + _HALF)
    reduced = clamped - power * _LN2_HIGH
    reduced = reduced - power * _LN2_LOW
    result = _EXP_POLYNOMIAL[0] * reduced + _EXP_POLYNOMIAL[1]
    result = result * reduced + _EXP_POLYNOMIAL[2]
    result = result * reduced + _EXP_POLYNOMIAL[3]
    result = result * reduced + _EXP_POLYNOMIAL[4]
    result = result * reduced + _EXP_POLYNOMIAL[5]
    result = result * (reduced * reduced) + reduced + _ONE
    # 2^power as the product of two powers of two (power reaches 128 near the top, beyond a
    # float32 exponent), both exact; a NaN value stays NaN through ``result``
    exponent = np.int32(power)
    half = exponent >> 1
    result = result * float32_from_bits((half + 127) << 23)
    result = result * float32_from_bits((exponent - half + 127) << 23)
    if value > _EXP_HIGHEST:
        result = _INFINITY
    if value < _EXP_LOWEST:
        result = _ZERO
    if value != value:
        result = value
    return result


exp_float32 = _exp_float32


def _row_max_float32(values):
    """The largest of a 1-D array's values (NaN passed over; the caller's exp carries a NaN
    through), by four running maxima whose comparisons overlap: for the row kernels."""
    columns = values.shape[0]
    first = second = third = fourth = values[0]
    whole = columns - columns % 4
    for column in range(0, whole, 4):
        if values[column] > first:
            first = values[column]
        if values[column + 1] > second:
            second = values[column + 1]
        if values[column + 2] > third:
            third = values[column + 2]
        if values[column + 3] > fourth:
            fourth = values[column + 3]
    for column in range(whole, columns):
        if values[column] > first:
            first = values[column]
    peak = first if first > second else second
    if third > peak:
        peak = third
    return fourth if fourth > peak else peak


row_max_float32 = _row_max_float32


def exp_float32_array(values, out):
    """``exp_float32`` of a float32 array into ``out``, pass by pass in NumPy: the same float32
    operations, so a kernel's NumPy path gives its bits. ``out`` may be ``values``."""
    overflows = values > _EXP_HIGHEST
    underflows = values < _EXP_LOWEST
    missing = np.isnan(values)
    nans = values[missing]
    clamped = np.minimum(values, _EXP_HIGHEST)
    clamped[missing | underflows] = _ZERO  # as exp_float32: replaced below, no subnormals
    power = np.multiply(clamped, _LOG2_E)
    power += _HALF
    np.floor(power, out=power)
    clamped -= power * _LN2_HIGH
    clamped -= power * _LN2_LOW  # the reduced argument
    np.multiply(clamped, _EXP_POLYNOMIAL[0], out=out)
    out += _EXP_POLYNOMIAL[1]
    for coefficient in _EXP_POLYNOMIAL[2:]:
        out *= clamped
        out += coefficient
    out *= clamped * clamped
    out += clamped
    out += _ONE
    # above the largest float32 the product overflows to the inf it is set to below
    with np.errstate(over="ignore"):
        exponent = power.astype(np.int32)
        half = exponent >> 1
        exponent -= half
        for part in (half, exponent):
            part += 127
            part <<= 23
            out *= part.view(np.float32)
    out[overflows] = _INFINITY
    out[underflows] = _ZERO
    out[missing] = nans
    return out


def _bitcast_intrinsic(numba):
    """``float32_from_bits`` as a numba intrinsic: one bitcast instruction."""
    from llvmlite import ir  # numba's dependency: loaded with the first kernel, not ember
    from numba.extending import intrinsic  # likewise
    types = numba.core.types

    @intrinsic
    def float32_from_bits(typing_context, bits):
        def codegen(context, builder, signature, arguments):
            return builder.bitcast(arguments[0], ir.FloatType())
        return types.float32(types.int32), codegen

    return float32_from_bits


def _allow_wide_vectors(numba):
    """On a CPU with AVX-512, let LLVM vectorise ember's kernels over 512-bit registers: its
    tuning for these CPUs prefers 256-bit ones (a clock-speed precaution for older Xeons, whose
    BLAS already runs 512-bit code), which halves the lanes of every vectorised loop (the GELU
    kernel on 65k floats: 53 -> 32 us, the same values). Only when ember loads numba first and
    NUMBA_CPU_NAME / NUMBA_CPU_FEATURES leave the choice open; before anything is compiled, as
    numba reads the features once, when it builds its code generator."""
    config = numba.core.config
    if config.CPU_NAME is not None or config.CPU_FEATURES is not None:
        return
    try:
        from llvmlite import binding  # numba's own dependency
        features = binding.get_host_cpu_features()
    except Exception:  # an LLVM build that cannot describe the host: keep numba's default
        return
    if features.get("avx512f"):
        config.CPU_FEATURES = features.flatten() + ",-prefer-256-bit"


def _keeping_warning_registries(dispatcher):
    """numba enters warnings.catch_warnings() when it compiles or loads a kernel, which makes
    every module forget the warnings it has shown, so a once-per-place warning (a deprecation
    in a training loop) would show again after each kernel's first call. The dispatcher's
    compile entry point is wrapped to put those records back afterwards."""
    compile_for_args = dispatcher._compile_for_args

    def compile_keeping_registries(*args, **kwargs):
        saved = _save_registries()
        try:
            return compile_for_args(*args, **kwargs)
        finally:
            _restore_registries(saved)
    dispatcher._compile_for_args = compile_keeping_registries
    return dispatcher


def _save_registries():
    """A copy of the ``__warningregistry__`` of every loaded module that has shown a warning."""
    saved = []
    for module in list(sys.modules.values()):
        registry = getattr(module, "__dict__", {}).get("__warningregistry__")
        if isinstance(registry, dict) and "version" in registry:
            saved.append((registry, dict(registry)))
    return saved


def _restore_registries(saved):
    """Put the copies back, valid under the filters' current version."""
    version = _filters_version()
    for registry, contents in saved:
        registry.clear()
        registry.update(contents)
        registry["version"] = version


class _Probe(Warning):
    pass


def _filters_version():
    """The warnings filters' current version, read from a fresh registry that an ignored probe
    warning stamps (the filter list is edited in place, which does not change the version)."""
    probe = {}
    rule = ("ignore", None, _Probe, None, 0)
    warnings.filters.insert(0, rule)
    try:
        warnings.warn_explicit("probe", _Probe, "ember._jit", 0, registry=probe)
    finally:
        warnings.filters.remove(rule)
    return probe.get("version", 0)


def available():
    """True when compiled kernels run now (numba present, not switched off)."""
    return _state["forced_off"] == 0 and _numba() is not None


@contextlib.contextmanager
def disabled():
    """Run the NumPy paths inside the block (used by tests that compare the two)."""
    with _lock:
        _state["forced_off"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["forced_off"] -= 1


class kernel:
    """Decorator: ``fn`` written in numba's nopython subset; ``.compiled()`` is the dispatcher
    (compiled per signature on first call, cached on disk across runs) or None.
    ``reassociate=True`` lets the compiler reorder additions (a reduction then vectorises): the
    order is fixed per machine, not the NumPy path's."""

    def __init__(self, fn=None, *, parallel=False, reassociate=False):
        self._fn = fn
        self._parallel = parallel
        self._reassociate = reassociate
        self._dispatcher = None

    def __call__(self, fn):
        # ``@kernel(parallel=True)``: the decorator was called with options first.
        return type(self)(fn, parallel=self._parallel, reassociate=self._reassociate)

    @property
    def python(self):
        """The kernel as plain Python: the same values, slowly, for a loop NumPy cannot
        express (a running sum in a fixed order)."""
        return self._fn

    def compiled(self):
        if _state["forced_off"]:
            return None
        if self._dispatcher is None:
            numba = _numba()
            if numba is None:
                return None
            # error_model "numpy": a division by zero gives inf/nan as in NumPy, not Python's
            # ZeroDivisionError check, which also keeps LLVM from vectorising the loop.
            options = {"nogil": True, "parallel": self._parallel, "error_model": "numpy"}
            if self._reassociate:
                # sums may be reordered (into vector lanes); NaN, inf and rounding of each
                # operation stay IEEE's
                options["fastmath"] = {"reassoc"}
            try:
                dispatcher = numba.njit(self._fn, cache=True, **options)
            except RuntimeError:
                # no writable cache location for this file: compile per process instead.
                dispatcher = numba.njit(self._fn, **options)
            self._dispatcher = _keeping_warning_registries(dispatcher)
        if self._parallel:
            _match_threads(self._dispatcher)
        return self._dispatcher


def _match_threads(dispatcher):
    """Parallel kernels use the thread count given to ``ember.set_num_threads`` (else numba's
    default, NUMBA_NUM_THREADS or the CPU count)."""
    numba = _state["numba"]
    wanted = _threads_state["threads"]
    if wanted is not None:
        wanted = min(wanted, numba.config.NUMBA_NUM_THREADS)
        if numba.get_num_threads() != wanted:
            numba.set_num_threads(wanted)
