"""The single source of randomness: ``Generator`` objects and the default one ``manual_seed`` resets."""
import contextlib
import math
import threading

import numpy as np

from . import _jit
from . import _device as _device_module
from ._device import device as _device
from ._layout import strided_order

_DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed
_MT_N = 624  # MT19937's state words
# sizeof(CPUGeneratorImplState) and of its legacy part in PyTorch (torch.get_rng_state's size).
_STATE_BYTES, _LEGACY_STATE_BYTES = 5056, 5048


# A thread's own default generator (a DataLoader worker's), where it has one.
class _ThreadState(threading.local):
    """A thread's own random state: its default generator where it has one (set as an
    attribute), vmap's refusal of draws, its BatchDraws and its calls in progress (class
    defaults: read directly)."""

    refusal = None
    batch_draws = None
    vmap_calls = 0


_thread = _ThreadState()


class Generator:
    """A seedable random stream: PyTorch's CPU generator, MT19937 seeded as torch.manual_seed
    seeds it, so that the same seed draws the same numbers as PyTorch (see the functions below).
    Pass ``generator=`` to factories, samplers and dropout."""

    __slots__ = ("_bits", "_numpy", "_initial_seed", "_next_double_normal", "_next_float_normal",
                 "_reseeded_in_vmap")

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: ember only has the 'cpu' device, got {device!r}")
        self._bits = np.random.MT19937()
        # NumPy's distributions over the same 32-bit stream, for the draws that need not be
        # PyTorch's (gradcheck's random directions).
        self._numpy = np.random.Generator(self._bits)
        self._reseeded_in_vmap = None  # the state that a manual_seed inside func.vmap left
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed):
        """Reseed and return self (torch.Generator.manual_seed)."""
        seed = int(seed)
        if seed < -0x8000_0000_0000_0000 or seed > 0xFFFF_FFFF_FFFF_FFFF:
            raise ValueError("Overflow when unpacking long long")  # PyTorch's argument parser
        seed &= 0xFFFF_FFFF_FFFF_FFFF
        self._initial_seed = seed
        # PyTorch's mt19937 keeps the low 32 bits of the seed and fills its state by Knuth's
        # recurrence (init_genrand), as NumPy's legacy RandomState seeding does.
        key = np.random.RandomState(seed & 0xFFFF_FFFF).get_state()[1]
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _MT_N}}
        self._next_double_normal = None
        self._next_float_normal = None
        if _thread.vmap_calls:
            # PyTorch's vmap allows reseeding; its randomness checks start again from here
            self._reseeded_in_vmap = self._snapshot()
        return self

    def seed(self):
        """Reseed from OS entropy and return the new seed."""
        new_seed = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        """The state as PyTorch's ByteTensor of 5056 bytes (its CPUGeneratorImplState layout),
        which ``torch.set_rng_state`` also reads."""
        state = self._bits.state["state"]
        position = int(state["pos"])
        raw = np.zeros(_STATE_BYTES, dtype=np.uint8)
        raw[0:8].view(np.uint64)[0] = self._initial_seed
        # PyTorch counts the draws left before the next twist (left) and the next index (next);
        # a twist pending is left == 1.
        raw[8:12].view(np.int32)[0] = 1 if position == _MT_N else _MT_N + 1 - position
        raw[12:16].view(np.int32)[0] = 1
        raw[16:24].view(np.uint64)[0] = 0 if position == _MT_N else position
        raw[24:24 + 8 * _MT_N].view(np.uint64)[:] = state["key"]
        if self._next_double_normal is not None:
            raw[5024:5032].view(np.float64)[0] = self._next_double_normal
            raw[5040:5044].view(np.int32)[0] = 1
        if self._next_float_normal is not None:
            raw[5048:5052].view(np.float32)[0] = self._next_float_normal
            raw[5052] = 1
        return _state_tensor(raw)

    def set_state(self, new_state):
        """Restore a state from ``get_state`` (or PyTorch's, of 5056 or legacy 5048 bytes)."""
        data = getattr(new_state, "_data", None)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        raw = np.ascontiguousarray(data).reshape(-1)
        if raw.size not in (_LEGACY_STATE_BYTES, _STATE_BYTES):
            raise RuntimeError(f"Expected either a CPUGeneratorImplStateLegacy of size "
                               f"{_LEGACY_STATE_BYTES} or a CPUGeneratorImplState of size "
                               f"{_STATE_BYTES} but found the input RNG state size to be "
                               f"{raw.size}")
        left = int(raw[8:12].view(np.int32)[0])
        seeded = int(raw[12:16].view(np.int32)[0])
        position = int(raw[16:24].view(np.uint64)[0])
        if not (seeded == 1 and 0 < left <= _MT_N and position <= _MT_N):
            raise RuntimeError("Invalid mt19937 state")
        key = raw[24:24 + 8 * _MT_N].view(np.uint64).astype(np.uint32)
        self._bits.state = {"bit_generator": "MT19937",
                            "state": {"key": key, "pos": _MT_N if left == 1 else position}}
        self._initial_seed = int(raw[0:8].view(np.uint64)[0])
        self._next_double_normal = (float(raw[5024:5032].view(np.float64)[0])
                                    if raw[5040:5044].view(np.int32)[0] else None)
        self._next_float_normal = (float(raw[5048:5052].view(np.float32)[0])
                                   if raw.size == _STATE_BYTES and raw[5052] else None)
        return self

    @property
    def device(self):
        return _device("cpu")

    def clone_state(self):
        """A new generator at this one's state (torch.Generator.clone_state)."""
        clone = Generator()
        clone._restore(self._snapshot())
        return clone

    def get_offset(self):
        raise RuntimeError("CPU Generator does not use offset")

    def set_offset(self, offset):
        raise RuntimeError("CPU Generator does not use offset")

    def graphsafe_get_state(self):
        raise NotImplementedError("graphsafe_get_state is not supported in this Generator")

    def graphsafe_set_state(self, state):
        raise NotImplementedError("graphsafe_set_state is not supported in this Generator")

    def _snapshot(self):
        """A cheap exact copy of the state that compares with ``==``, for ember's own
        save-and-restore."""
        state = self._bits.state["state"]
        return (state["key"].tobytes(), int(state["pos"]), self._initial_seed,
                self._next_double_normal, self._next_float_normal)

    def _restore(self, snapshot):
        key, position, self._initial_seed, self._next_double_normal, \
            self._next_float_normal = snapshot
        self._bits.state = {"bit_generator": "MT19937",
                            "state": {"key": np.frombuffer(key, np.uint32), "pos": position}}


# Wraps get_state's bytes as a Tensor; ember.tensor sets it (that type sits above this module).
_state_tensor = None

default_generator = Generator()
# PyTorch seeds its default CPU generator from OS entropy at startup, so unseeded programs
# differ from run to run (torch.initial_seed() is new each time); a new Generator() starts
# from the fixed default seed.
default_generator.seed()


def set_thread_generator(generator):
    """Give the calling thread its own default generator (None: the shared one again), as each
    of PyTorch's DataLoader worker processes seeds its own with base_seed + worker id."""
    if generator is None:
        _thread.__dict__.pop("generator", None)
    else:
        _thread.generator = generator


def manual_seed(seed):
    """Seed the default generator, the one every random function uses unless given another
    (in a DataLoader worker, the worker's own)."""
    return _default().manual_seed(seed)


def seed():
    return _default().seed()


def initial_seed():
    return _default().initial_seed()


def get_rng_state():
    return _default().get_state()


def set_rng_state(new_state):
    _default().set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type="cuda"):
    """The default generator's state is restored when the block ends (``torch.random.fork_rng``):
    draws inside it leave the stream outside as it was. ``devices`` and ``device_type`` name
    accelerators, which ember does not have."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


_device_module._meta_block_hooks[:] = [get_rng_state, set_rng_state]


def numpy_generator(generator=None):
    """The NumPy stream behind ``generator`` (the default one when None)."""
    if generator is None:
        return _stream(None)._numpy
    if not isinstance(generator, Generator):
        raise TypeError(f"expected an ember.Generator, got {type(generator).__name__}")
    return generator._numpy


# ---- PyTorch's CPU transformations of the 32-bit stream --------------------------------------
# Each follows ATen's CPU kernel for the same draw (DistributionsHelper.h, TransformationHelper.h,
# cpu/DistributionTemplates.h), element by element in memory order, so that the same seed gives
# PyTorch's numbers, bit for bit.
def _default():
    """The calling thread's default generator."""
    return getattr(_thread, "generator", default_generator)


def _stream(generator):
    """The generator a draw uses (the default one for None)."""
    record = _thread.batch_draws
    if record is not None and not record.batched:
        record.unbatched = True
    if generator is None:
        return getattr(_thread, "generator", default_generator)
    if not isinstance(generator, Generator):
        raise TypeError(f"expected an ember.Generator, got {type(generator).__name__}")
    refusal = _thread.refusal
    if refusal is not None:
        # (draws from the default generator are found by comparing its state afterwards)
        raise RuntimeError(refusal)
    return generator


class BatchDraws:
    """What ember.func.vmap(randomness="different") learns of a batched call's draws: factories
    draw every sample's values at once through ``hook(draw, shape)``; ``batched`` counts the
    draws in progress that are made for the whole batch (by the hook or an op's batching rule);
    ``unbatched`` says a draw was made for one sample only (then vmap runs once per sample)."""

    def __init__(self, hook):
        self.hook = hook
        self.batched = 0
        self.unbatched = False


@contextlib.contextmanager
def batch_draws(hook):
    """A BatchDraws for the draws made inside (ember.func.vmap's batched call)."""
    previous = _thread.batch_draws
    record = _thread.batch_draws = BatchDraws(hook)
    try:
        yield record
    finally:
        _thread.batch_draws = previous


def current_batch_draws():
    """The BatchDraws of the batched call in progress, or None."""
    return _thread.batch_draws


def batched_draw(draw, shape):
    """A factory's values for every sample of the batched call in progress at once, as the
    batched tensor ``hook`` makes from ``draw(batch_shape)``; None outside such a call."""
    record = _thread.batch_draws
    if record is None:
        return None
    record.batched += 1
    try:
        return record.hook(draw, shape)
    finally:
        record.batched -= 1


@contextlib.contextmanager
def refusing_draws(message):
    """Draws from a given generator raise RuntimeError(message) inside (None: allowed), for
    ember.func.vmap's randomness="error"."""
    previous = _thread.refusal
    _thread.refusal = message
    try:
        yield
    finally:
        _thread.refusal = previous


@contextlib.contextmanager
def vmapping():
    """Marks a call of ember.func.vmap's function in progress (batched or once per sample):
    random ops that PyTorch cannot batch (rrelu) refuse there, whatever their inputs."""
    _thread.vmap_calls += 1
    try:
        yield
    finally:
        _thread.vmap_calls -= 1


def inside_vmap():
    """Whether a call of ember.func.vmap's function is in progress in this thread."""
    return _thread.vmap_calls > 0


def vmap_depth():
    """How many calls of ember.func.vmap's function are in progress in this thread."""
    return _thread.vmap_calls


# From this many words on, a draw runs the compiled MT19937 below (NumPy's random_raw calls its
# generator once per word: 1.6M words 6.1 -> 2.5 ms), which repays reading and writing the
# state (~0.15 ms).
_COMPILED_WORDS = 1 << 16
_UPPER_BIT, _LOWER_BITS = np.uint32(0x80000000), np.uint32(0x7FFFFFFF)
_TWIST = np.uint32(0x9908B0DF)
_TEMPER_B, _TEMPER_C = np.uint32(0x9D2C5680), np.uint32(0xEFC60000)
_ONE32, _ZERO32 = np.uint32(1), np.uint32(0)


def random32(generator, count):
    """``count`` raw 32-bit draws (as uint64)."""
    if not count:
        return np.empty(0, np.uint64)
    bits = _stream(generator)._bits
    if count >= _COMPILED_WORDS:
        fill = _mt19937_words.compiled()
        if fill is not None:
            words = np.empty(count, np.uint64)
            with bits.lock:  # the lock random_raw takes
                state = bits.state["state"]
                key = state["key"]  # a fresh copy of the generator's words
                position = fill(key, state["pos"], words)
                bits.state = {"bit_generator": "MT19937",
                              "state": {"key": key, "pos": position}}
            return words
    return bits.random_raw(count)


@_jit.kernel
def _mt19937_words(key, position, out):
    """MT19937's next ``out.size`` tempered words from state ``key`` at ``position`` (the
    reference generator's twist and tempering, as NumPy's MT19937 steps them); updates ``key``
    and returns the new position."""
    size, shift = 624, 397
    done = 0
    while done < out.size:
        if position >= size:
            # one pass over the words in three loops free of wrapping indices (they vectorise)
            for index in range(size - shift):
                word = (key[index] & _UPPER_BIT) | (key[index + 1] & _LOWER_BITS)
                odd = _ZERO32 - (word & _ONE32)  # all ones for an odd word
                key[index] = key[index + shift] ^ (word >> 1) ^ (odd & _TWIST)
            for index in range(size - shift, size - 1):
                word = (key[index] & _UPPER_BIT) | (key[index + 1] & _LOWER_BITS)
                odd = _ZERO32 - (word & _ONE32)
                key[index] = key[index + shift - size] ^ (word >> 1) ^ (odd & _TWIST)
            word = (key[size - 1] & _UPPER_BIT) | (key[0] & _LOWER_BITS)
            odd = _ZERO32 - (word & _ONE32)
            key[size - 1] = key[shift - 1] ^ (word >> 1) ^ (odd & _TWIST)
            position = 0
        take = min(size - position, out.size - done)
        for index in range(take):
            word = key[position + index]
            word ^= word >> 11
            word ^= (word << 7) & _TEMPER_B
            word ^= (word << 15) & _TEMPER_C
            word ^= word >> 18
            out[done + index] = word
        done += take
        position += take
    return position


def random64(generator, count):
    """``count`` 64-bit draws, each from two 32-bit ones, the first the high word."""
    words = random32(generator, 2 * count)
    return (words[0::2] << np.uint64(32)) | words[1::2]


# Mantissa digits per floating dtype, the range of random_() without bounds.
_MANTISSA = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def _unit(generator, count, dtype):
    """Uniform draws on [0, 1) as PyTorch makes them for ``dtype``: float64 from 53 bits of a
    64-bit draw, every narrower type from the low 24 bits of one 32-bit draw, in float32 (float16
    and bfloat16 values are drawn as float32 ones, then rounded)."""
    if np.dtype(dtype) == np.float64:
        return (random64(generator, count) & np.uint64((1 << 53) - 1)).astype(np.float64) \
            * 2.0 ** -53
    return (random32(generator, count) & np.uint64((1 << 24) - 1)).astype(np.float32) \
        * np.float32(2.0 ** -24)


def uniform(generator, shape, dtype, low=0.0, high=1.0):
    """U(low, high) in ``dtype`` (float16/bfloat16/float32/float64): ``x * (to - from) + from``
    with the bounds cast to the compute type (float32 below float64) first, as ``uniform_``
    does, and one rounding of the multiply-add (exact in float64 for the 24-bit products), as
    PyTorch's compiled kernel has."""
    dtype = np.dtype(dtype)
    x = _unit(generator, _count(shape), dtype)
    if dtype == np.float64:
        values = _fused64(x, float(high) - float(low), float(low))
    else:
        # the bounds in float32 (float16 and bfloat16 values are computed in float32 too)
        low, high = np.float32(low), np.float32(high)
        span = np.float64(np.float32(high - low))
        values = (x.astype(np.float64) * span + np.float64(np.float32(low))).astype(np.float32)
        if dtype.itemsize == 2:
            # a value that rounds up to ``high`` in float16/bfloat16 becomes ``low``, as in
            # PyTorch, so that draws stay in [low, high)
            values = values.astype(dtype)
            values[values >= dtype.type(high)] = dtype.type(low)
    return values.astype(dtype, copy=False).reshape(shape)


def normal(generator, shape, dtype, mean=0.0, std=1.0, contiguous=True):
    """N(mean, std^2) in ``dtype``: Box-Muller over blocks of 16 uniforms for 16 or more
    contiguous elements (the last block redrawn over the tail), else PyTorch's scalar normal
    in float64, which keeps the second value of each pair for the next draw."""
    dtype = np.dtype(dtype)
    count = _count(shape)
    if count >= 16 and contiguous:
        compute = np.float64 if dtype == np.float64 else np.float32
        whole = count - count % 16
        # float16 and bfloat16 go through PyTorch's float32 kernel, which draws uniforms for
        # the whole blocks only; float32 and float64 draw one per element first
        drawn = whole if dtype.itemsize == 2 else count
        values = np.empty(count, compute)
        values[:whole] = _unit(generator, drawn, compute)[:whole]
        _box_muller_16(values[:whole], mean, std)
        if count % 16:
            tail = _unit(generator, 16, compute)
            _box_muller_16(tail, mean, std)
            values[count - 16:] = tail
    else:
        values = _scalar_normals(_stream(generator), count)
        if std == 1.0 and mean == 0.0:
            values += 0.0  # fma(x, 1, 0) is x, with -0.0 made +0.0: no split products needed
        else:
            values = _fused64(values, float(std), float(mean))
    return values.astype(dtype, copy=False).reshape(shape)


# The C library's functions elementwise (PyTorch's kernels call them; NumPy's own float64 log,
# log1p, exp and tan differ from them in the last bit of a few values in a thousand).
_LIBM = {name: np.frompyfunc(getattr(math, name), 1, 1)
         for name in ("log", "log1p", "exp", "cos", "sin", "tan")}


def _libm(name, values):
    return np.asarray(_LIBM[name](values), dtype=np.float64)


def _box_muller_16(values, mean, std):
    """In place, per block of 16: u1 = 1 - v[j], u2 = v[j + 8] make v[j] (cosine) and v[j + 8]
    (sine). float32 follows PyTorch's vectorised kernel (theta = float(2 pi) * u2 in float32,
    its own log and sincos, then a multiply-add with std and mean); float64 its scalar one."""
    blocks = values.reshape(-1, 16)
    u1, u2 = 1 - blocks[:, :8], blocks[:, 8:]
    if values.dtype == np.float64:
        # the C library's log (NumPy's own rounds a few values in a thousand the other way),
        # and the multiply-add with std and mean fused, as in PyTorch's compiled kernel
        radius = np.sqrt(-2 * _libm("log", u1))
        theta = 2.0 * np.pi * u2
        blocks[:, :8] = _fused64(radius * np.cos(theta), std, mean)
        blocks[:, 8:] = _fused64(radius * np.sin(theta), std, mean)
        return
    # float32: the vectorised kernel's own log and sincos (below), bit for bit
    compiled = _box_muller_16_float32.compiled()
    if compiled is not None:
        compiled(blocks, np.float64(np.float32(std)), np.float64(np.float32(mean)))
        return
    radius = np.sqrt(np.float32(-2) * _vector_log(u1))
    sines, cosines = _vector_sincos(np.float32(2 * np.pi) * u2)
    std64, mean64 = np.float64(np.float32(std)), np.float64(np.float32(mean))
    blocks[:, :8] = _fused(radius * cosines, std64, mean64)
    blocks[:, 8:] = _fused(radius * sines, std64, mean64)


# PyTorch's vectorised normal kernel computes log, sin and cos with Cephes' single-precision
# polynomials (the avx_mathfun library), compiled with each multiply-add fused into one rounding.
# These repeat those steps in float32 with the same fusions: a float32 product is exact in
# float64, so one float64 multiply-add then a cast rounds as an FMA does.
def _fused(a, b, c):
    """float32 ``a * b + c`` with one rounding (b and c given as float64 or float32)."""
    return (np.asarray(a, np.float64) * b + c).astype(np.float32)


def _fused64(a, b, c):
    """float64 ``a * b + c`` with one rounding, as the FMA PyTorch's compiled float64 kernels
    use: the exact product as a sum of two doubles (Dekker's split), added to ``c`` exactly,
    the tail rounded to odd so that the last addition rounds once (Boldo and Melquiond)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64),
                                  np.asarray(c, np.float64))
    product = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    product_error = ((a_high * b_high - product) + a_high * b_low + a_low * b_high) \
        + a_low * b_low
    high, low = _two_sum(c, product)
    tail, tail_error = _two_sum(low, product_error)
    inexact_even = (tail_error != 0) & ((tail.view(np.int64) & 1) == 0)
    tail = np.where(inexact_even, np.nextafter(tail, np.copysign(np.inf, tail_error)), tail)
    with np.errstate(invalid="ignore", over="ignore"):
        fused = high + tail
    # infinities and NaNs (overflowing products) as the plain expression gives them
    return np.where(np.isfinite(fused), fused, product + c)


def _split(value):
    """Veltkamp's split: ``value = high + low``, each with at most 26 significant bits."""
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = value * 134217729.0  # 2**27 + 1
        high = scaled - (scaled - value)
    return high, value - high


def _two_sum(a, b):
    """``(a + b, error)`` with ``a + b == sum + error`` exactly (Knuth)."""
    with np.errstate(invalid="ignore"):
        total = a + b
        b_part = total - a
        return total, (a - (total - b_part)) + (b - b_part)


_LOG_COEFFICIENTS = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                     1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                     3.3333331174e-1)


def _vector_log(x):
    """Natural log of positive normal float32 values: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
    log(m) by a degree-9 polynomial in m - 1, e ln 2 added in two parts."""
    bits = x.view(np.int32)
    exponent = ((bits >> 23) - 0x7F).astype(np.float32) + np.float32(1)
    mantissa = ((bits & np.int32(0x007FFFFF)) | np.int32(0x3F000000)).view(np.float32)
    low = mantissa < np.float32(0.707106781186547524)
    exponent -= low
    x = (mantissa - np.float32(1)) + np.where(low, mantissa, np.float32(0))
    square = x * x
    y = np.full(x.shape, np.float32(_LOG_COEFFICIENTS[0]))
    for coefficient in _LOG_COEFFICIENTS[1:]:
        y = _fused(y, x, np.float32(coefficient))
    y = _fused(y * x, square, exponent * np.float32(-2.12194440e-4))
    y = y - square * np.float32(0.5)
    return (x + y) + exponent * np.float32(0.693359375)


def _vector_sincos(x):
    """(sin, cos) of float32 values: reduction by multiples of pi/4 (pi/4 split in three parts),
    then Cephes' sine and cosine polynomials on [-pi/4, pi/4], chosen and signed by octant."""
    negative = np.signbit(x)
    x = np.abs(x)
    octant = (x * np.float32(1.27323954473516)).astype(np.int32)
    octant = (octant + 1) & ~np.int32(1)
    whole = octant.astype(np.float32)
    for part in (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8):
        x = _fused(whole, np.float32(part), x)
    sine_negative = negative ^ ((octant & 4) != 0)
    cosine_negative = ((octant - 2) & 4) == 0
    use_sine = (octant & 2) == 0
    square = x * x
    cosine = _fused(_fused(np.float32(2.443315711809948e-5), square,
                           np.float32(-1.388731625493765e-3)), square,
                    np.float32(4.166664568298827e-2))
    cosine = _fused(cosine * square, square, -(square * np.float32(0.5))) + np.float32(1)
    sine = _fused(_fused(np.float32(-1.9515295891e-4), square, np.float32(8.3321608736e-3)),
                  square, np.float32(-1.6666654611e-1))
    sine = _fused(sine * square, x, x)
    sines, cosines = np.where(use_sine, sine, cosine), np.where(use_sine, cosine, sine)
    return np.where(sine_negative, -sines, sines), np.where(cosine_negative, -cosines, cosines)


# The float32 constants of the two functions above, for the compiled kernel below.
_F32_LOG = tuple(np.float32(coefficient) for coefficient in _LOG_COEFFICIENTS)
_F32_SQRT_HALF = np.float32(0.707106781186547524)
_F32_LOG_LOW, _F32_LOG_HIGH = np.float32(-2.12194440e-4), np.float32(0.693359375)
_F32_FOUR_OVER_PI = np.float32(1.27323954473516)
_F32_PI_PARTS = (np.float32(-0.78515625), np.float32(-2.4187564849853515625e-4),
                 np.float32(-3.77489497744594108e-8))
_F32_COSINE = (np.float32(2.443315711809948e-5), np.float32(-1.388731625493765e-3),
               np.float32(4.166664568298827e-2))
_F32_SINE = (np.float32(-1.9515295891e-4), np.float32(8.3321608736e-3),
             np.float32(-1.6666654611e-1))
_F32_TWO_PI = np.float32(2 * np.pi)


@_jit.kernel
def _box_muller_16_float32(blocks, std, mean):
    # _box_muller_16's float32 steps (_vector_log, _vector_sincos, _fused) element by element,
    # in the same operations and roundings: each float32 multiply-add as one float64 multiply-add
    # of float32 values (exact product) rounded to float32, as _fused computes it.
    half, one, two = np.float32(0.5), np.float32(1), np.float32(-2)
    for block in range(blocks.shape[0]):
        for lane in range(8):
            u1 = one - blocks[block, lane]
            # log(u1), u1 in (0, 1]: mantissa in [0.5, 1) and exponent, then the polynomial
            bits = np.int32(np.float32(u1).view(np.int32))
            exponent = np.float32((bits >> 23) - 0x7F) + one
            mantissa = np.int32((bits & 0x007FFFFF) | 0x3F000000).view(np.float32)
            x = mantissa - one
            if mantissa < _F32_SQRT_HALF:
                exponent = exponent - one
                x = x + mantissa
            else:
                x = x + np.float32(0)
            square = x * x
            y = _F32_LOG[0]
            for number in range(1, 9):
                y = np.float32(np.float64(y) * np.float64(x) + np.float64(_F32_LOG[number]))
            y = np.float32(np.float64(y * x) * np.float64(square)
                           + np.float64(exponent * _F32_LOG_LOW))
            y = y - square * half
            logarithm = (x + y) + exponent * _F32_LOG_HIGH
            radius = np.sqrt(two * logarithm)
            # sin and cos of 2 pi u2 (u2 >= 0)
            angle = _F32_TWO_PI * blocks[block, lane + 8]
            negative = angle < 0 or (angle == 0 and np.signbit(angle))
            angle = abs(angle)
            octant = np.int32(angle * _F32_FOUR_OVER_PI)
            octant = (octant + 1) & ~np.int32(1)
            whole = np.float64(np.float32(octant))
            for part in range(3):
                angle = np.float32(whole * np.float64(_F32_PI_PARTS[part]) + np.float64(angle))
            sine_negative = negative != ((octant & 4) != 0)
            cosine_negative = ((octant - 2) & 4) == 0
            square = angle * angle
            square64 = np.float64(square)
            cosine = np.float32(np.float64(_F32_COSINE[0]) * square64
                                + np.float64(_F32_COSINE[1]))
            cosine = np.float32(np.float64(cosine) * square64 + np.float64(_F32_COSINE[2]))
            cosine = np.float32(np.float64(cosine * square) * square64
                                + np.float64(-(square * half))) + one
            sine = np.float32(np.float64(_F32_SINE[0]) * square64 + np.float64(_F32_SINE[1]))
            sine = np.float32(np.float64(sine) * square64 + np.float64(_F32_SINE[2]))
            sine = np.float32(np.float64(sine * square) * np.float64(angle) + np.float64(angle))
            if (octant & 2) == 0:
                sines, cosines = sine, cosine
            else:
                sines, cosines = cosine, sine
            if sine_negative:
                sines = -sines
            if cosine_negative:
                cosines = -cosines
            blocks[block, lane] = np.float32(np.float64(radius * cosines) * std + mean)
            blocks[block, lane + 8] = np.float32(np.float64(radius * sines) * std + mean)


def _scalar_normals(stream, count):
    """``count`` standard normals from at::normal_distribution<double>: a pair from two float64
    uniforms (theta from the first, the radius from the second), the sine kept for later."""
    values = np.empty(count, np.float64)
    start = 0
    if count and stream._next_double_normal is not None:
        values[0] = stream._next_double_normal
        stream._next_double_normal = None
        start = 1
    pairs = (count - start + 1) // 2
    if pairs:
        draws = _unit(stream, 2 * pairs, np.float64)
        theta = 2.0 * np.pi * draws[0::2]
        radius = np.sqrt(-2.0 * _libm("log1p", -draws[1::2]))
        cosines, sines = radius * _libm("cos", theta), radius * _libm("sin", theta)
        values[start::2] = cosines[:len(values[start::2])]
        values[start + 1::2] = sines[:len(values[start + 1::2])]
        if (count - start) % 2:
            stream._next_double_normal = float(sines[-1])
    return values


def integers(generator, low, high, shape):
    """Integers in [low, high) as int64: ``draw % (high - low) + low`` with one 32-bit draw each,
    or a 64-bit one from a range of 2**28 on, whatever the dtype (PyTorch's bound on the skew
    of the modulo: random_(from, to), randint)."""
    low = int(low)
    span = int(high) - low
    count = _count(shape)
    draws = random64(generator, count) if span >= 2 ** 28 else random32(generator, count)
    # in place on the fresh draws (uint64, wrapping as PyTorch's unsigned arithmetic does)
    np.remainder(draws, np.uint64(span), out=draws)
    if low:
        draws += np.uint64(low & 0xFFFF_FFFF_FFFF_FFFF)
    return draws.view(np.int64).reshape(shape)


def full_range(generator, shape, dtype):
    """``random_()`` without bounds: [0, 2^mantissa] for floats, [0, max] for integers, 0/1 for
    bool; int64 and float64 from 64-bit draws, the others from 32-bit ones."""
    dtype = np.dtype(dtype)
    count = _count(shape)
    wide = dtype in (np.float64, np.int64)
    draws = random64(generator, count) if wide else random32(generator, count)
    if dtype == np.bool_:
        return (draws & np.uint64(1)).astype(np.bool_).reshape(shape)
    if dtype.kind == "f" or dtype.name == "bfloat16":
        modulus = (1 << _MANTISSA[dtype.name]) + 1
    else:
        modulus = int(np.iinfo(dtype).max) + 1
    return (draws % np.uint64(modulus)).astype(dtype).reshape(shape)


def permutation(generator, count):
    """randperm: a forward Fisher-Yates shuffle of 0..n-1, position i swapped with
    i + draw % (n - i), one 32-bit draw per position but the last."""
    if count < 2:
        return np.arange(count, dtype=np.int64)
    offsets = (random32(generator, count - 1)
               % np.arange(count, 1, -1, dtype=np.uint64)).astype(np.int64)
    compiled = _swap_forward.compiled()
    if compiled is not None:
        order = np.arange(count, dtype=np.int64)
        compiled(order, offsets)
        return order
    order = list(range(count))
    for position, offset in enumerate(offsets.tolist()):
        other = position + offset
        order[position], order[other] = order[other], order[position]
    return np.array(order, dtype=np.int64)


@_jit.kernel
def _swap_forward(order, offsets):
    for position in range(offsets.size):
        other = position + offsets[position]
        order[position], order[other] = order[other], order[position]


_LOW_53_BITS, _HIGH_WORD_SHIFT = np.uint64((1 << 53) - 1), np.uint64(32)


@_jit.kernel
def _below_53_bits(words, threshold, out):
    """out[i]: whether the low 53 bits of the 64-bit draw made of words 2i (high) and 2i + 1
    (random64's) are below ``threshold``."""
    for index in range(out.size):
        draw = (words[2 * index] << _HIGH_WORD_SHIFT) | words[2 * index + 1]
        out[index] = (draw & _LOW_53_BITS) < threshold


def bernoulli(generator, probabilities, shape=None):
    """0/1 draws (bool) with success probability ``probabilities``: a number (float64 uniforms,
    as bernoulli_(p) and dropout draw), or an array (float32 uniforms for float32 ones, float64
    for float64), broadcast to ``shape``."""
    if not isinstance(probabilities, np.ndarray):
        # u = k * 2^-53 < p exactly when the 53-bit integer k < ceil(p * 2^53): compared as
        # integers, without making the floats
        threshold = np.uint64(math.ceil(min(max(float(probabilities), 0.0), 1.0) * 2.0 ** 53))
        count = _count(shape)
        below = _below_53_bits.compiled() if 2 * count >= _COMPILED_WORDS else None
        if below is not None:
            # one pass over the word pairs, no 64-bit draws made (dropout's masks: 2x faster)
            result = np.empty(count, np.bool_)
            below(random32(generator, 2 * count), threshold, result)
            return result.reshape(shape)
        bits = random64(generator, count) & _LOW_53_BITS
        return (bits < threshold).reshape(shape)
    if shape is not None:
        probabilities = np.broadcast_to(probabilities, shape)
    compute = np.float64 if probabilities.dtype == np.float64 else np.float32
    draws = _unit(generator, probabilities.size, compute).reshape(probabilities.shape)
    return draws < probabilities.astype(compute, copy=False)


def exponential(generator, shape, rate=1.0, wide=False):
    """Exponential draws in float64, ``-1 / rate * log1p(-u)``; ``wide`` (for float64 results)
    takes the C library's log1p, whose last bit NumPy's does not always give (narrower results
    round the same either way)."""
    unit = _unit(generator, _count(shape), np.float64)
    logs = _libm("log1p", -unit) if wide else np.log1p(-unit)
    return ((-1.0 / rate) * logs).reshape(shape)


def in_memory_order(data, values):
    """``values``, whose flat order is the draw order, rearranged so that the k-th draw lands
    on the k-th element of the strided array ``data`` in the order PyTorch walks it (its memory
    order when it does not overlap; ``strided_order``): PyTorch's serial random kernels fill a
    tensor so, and the tensors its ``*_like`` factories and dropout fill are laid out as their
    input is."""
    if data.flags.c_contiguous or values.shape != data.shape or data.ndim < 2:
        return values
    if min(data.strides) < 0:
        # NumPy's negative strides (PyTorch has none): by address
        offsets = np.zeros(data.shape, dtype=np.int64)
        for axis, (size, stride) in enumerate(zip(data.shape, data.strides)):
            offsets += (np.arange(size, dtype=np.int64) * stride).reshape(
                (-1,) + (1,) * (data.ndim - 1 - axis))
        placed = np.empty(values.size, values.dtype)
        placed[np.argsort(offsets.reshape(-1), kind="stable")] = values.reshape(-1)
        return placed.reshape(values.shape)
    order = strided_order(data.shape, data.strides)
    walked = values.reshape([data.shape[axis] for axis in order])
    return walked.transpose(np.argsort(order))


def _count(shape):
    if type(shape) is tuple:
        return math.prod(shape)  # np.prod's wrapper costs ~2 us a call
    return int(np.prod(shape, dtype=np.int64)) if shape is not None else 1


def geometric(generator, shape, p):
    """Trials up to the first success, ``ceil(log(u) / log1p(-p))`` from float64 uniforms."""
    return np.ceil(_libm("log", _unit(generator, _count(shape), np.float64))
                   / math.log1p(-p)).reshape(shape)


def log_normal(generator, shape, mean, std):
    """``exp`` of PyTorch's scalar normals times std plus mean (one rounding), in float64."""
    normals = _scalar_normals(_stream(generator), _count(shape))
    return _libm("exp", _fused64(normals, float(std), float(mean))).reshape(shape)


def cauchy(generator, shape, median, sigma):
    """``median + sigma * tan(pi * (u - 1/2))`` from float64 uniforms (one rounding of the
    multiply-add)."""
    angles = np.pi * (_unit(generator, _count(shape), np.float64) - 0.5)
    return _fused64(_libm("tan", angles), float(sigma), float(median)).reshape(shape)


def multinomial_rows(generator, rows, samples, replacement):
    """Category indices (int64, one row of ``samples`` per row of the weights ``rows``).

    One sample, or samples without replacement, take the largest ``w / Exp(1)`` (the
    exponential keys drawn for the whole array at once, in its dtype); samples with
    replacement search each row's normalised cumulative sum with float64 uniforms."""
    if samples == 1 or not replacement:
        keys = rows / exponential(generator, rows.shape,
                                  wide=rows.dtype == np.float64).astype(rows.dtype)
        if samples == 1:
            return np.argmax(keys, axis=-1)[:, None]
        return np.argsort(-keys, axis=-1, kind="stable")[:, :samples]
    cumulative = np.cumsum(rows, axis=-1, dtype=np.float64)
    cumulative /= cumulative[:, -1:]
    cumulative[:, -1] = 1.0
    draws = _unit(generator, rows.shape[0] * samples, np.float64).reshape(-1, samples)
    return np.stack([row.searchsorted(draw, side="left")
                     for row, draw in zip(cumulative, draws)])


class _Words:
    """32-bit words taken one at a time (for samplers that consume a varying number per value),
    drawn from the generator in buffers; ``close`` leaves the generator just past the words
    taken, as if each had been drawn alone."""

    def __init__(self, generator):
        self.stream = _stream(generator)
        self.start = self.stream._bits.state
        self.buffer, self.used, self.taken = [], 0, 0

    def take(self):
        if self.used == len(self.buffer):
            self.buffer, self.used = self.stream._bits.random_raw(256).tolist(), 0
        self.used += 1
        self.taken += 1
        return self.buffer[self.used - 1]

    def uniform(self):
        """at::uniform_real_distribution<double>(0, 1)."""
        high = self.take()
        return (((high << 32) | self.take()) & ((1 << 53) - 1)) * 2.0 ** -53

    def normal(self):
        """at::normal_distribution<double>(0, 1), sharing the generator's cached value."""
        cached = self.stream._next_double_normal
        if cached is not None:
            self.stream._next_double_normal = None
            return cached
        theta = 2.0 * math.pi * self.uniform()
        radius = math.sqrt(-2.0 * math.log1p(-self.uniform()))
        self.stream._next_double_normal = radius * math.sin(theta)
        return radius * math.cos(theta)

    def close(self):
        self.stream._bits.state = self.start
        self.stream._bits.random_raw(self.taken)


def standard_gamma(generator, concentrations, single=False):
    """Gamma(alpha, 1) draws, PyTorch's sample_gamma per element in order: Marsaglia and
    Tsang's squeeze-and-reject method (doi:10.1145/358407.358414) on float64 uniforms and
    normals, alpha < 1 boosted by one with a uniform's 1/alpha power. ``single`` does the
    constants' arithmetic in float32, as PyTorch's float32 kernel does; results are float64,
    kept above the smallest normal number of the caller's dtype by the caller."""
    f32 = np.float32
    words = _Words(generator)
    values = np.empty(concentrations.size, np.float64)
    try:
        for index, alpha in enumerate(np.asarray(concentrations).reshape(-1).tolist()):
            scale = 1.0
            if alpha < 1.0:
                if alpha == 0.0:
                    values[index] = 0.0
                    continue
                power = float(f32(1.0) / f32(alpha)) if single else 1.0 / alpha
                scale *= (1.0 - words.uniform()) ** power
                alpha = float(f32(alpha) + f32(1.0)) if single else alpha + 1.0
            third = float(f32(1.0) / f32(3.0))
            d = float(f32(alpha) - f32(third)) if single else alpha - third
            c = 1.0 / math.sqrt(9.0 * d)
            while True:
                x = words.normal()
                y = 1.0 + c * x
                while y <= 0:
                    x = words.normal()
                    y = 1.0 + c * x
                v = y * y * y
                u = 1.0 - words.uniform()
                xx = x * x
                if u < 1.0 - _SQUEEZE * xx * xx or \
                        math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
                    values[index] = scale * d * v
                    break
    finally:
        words.close()
    return values.reshape(np.shape(concentrations))


_SQUEEZE = float(np.float32(0.0331))  # the float constant 0.0331f of PyTorch's squeeze test


def poisson(generator, rates):
    """Poisson draws (float64), PyTorch's sample_poisson per element in order: Hormann's
    transformed rejection for rates of 10 and more, else multiplying uniforms."""
    words = _Words(generator)
    values = np.empty(rates.size, np.float64)
    try:
        for index, rate in enumerate(np.asarray(rates, np.float64).reshape(-1).tolist()):
            values[index] = _poisson_one(words, rate)
    finally:
        words.close()
    return values.reshape(np.shape(rates))


def _poisson_one(words, rate):
    if rate >= 10:
        root, log_rate = math.sqrt(rate), math.log(rate)
        b = 0.931 + 2.53 * root
        a = -0.059 + 0.02483 * b
        inverse_alpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = words.uniform() - 0.5
            v = words.uniform()
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + rate + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if (math.log(v) + math.log(inverse_alpha) - math.log(a / (us * us) + b)
                    <= -rate + k * log_rate - math.lgamma(k + 1.0)):
                return k
    if rate == 0:
        return 0
    limit, count, product = math.exp(-rate), 0, 1.0
    while True:
        product *= words.uniform()
        if product > limit:
            count += 1
        else:
            return count


def binomial(generator, counts, probabilities, single=False):
    """Binomial draws (float64), PyTorch's sample_binomial per element in order: for
    min(p, 1 - p) times the count of 10 and more, Hormann's BTRS rejection, else inverting
    geometric waiting times; p > 1/2 samples the failures. ``single`` rounds the count and
    probability tests as PyTorch's float32 kernel does."""
    f32 = np.float32
    words = _Words(generator)
    pairs = zip(np.asarray(counts, np.float64).reshape(-1).tolist(),
                np.asarray(probabilities, np.float64).reshape(-1).tolist())
    values = np.empty(np.size(counts), np.float64)
    try:
        for index, (count, p) in enumerate(pairs):
            if count <= 0 or p <= 0:
                values[index] = 0.0
            elif p >= 1:
                values[index] = count
            else:
                flipped = p > 0.5
                if flipped:
                    p = float(f32(1.0 - p)) if single else 1.0 - p
                mean = float(f32(count) * f32(p)) if single else count * p
                drawn = _btrs(words, count, p) if mean >= 10 else _inversion(words, count, p)
                values[index] = count - drawn if flipped else drawn
    finally:
        words.close()
    return values.reshape(np.shape(counts))


def _inversion(words, count, p):
    log_q = math.log1p(-p)
    waited, successes = 0.0, 0.0
    while True:
        waited += math.ceil(math.log(words.uniform()) / log_q)
        if waited > count:
            return successes
        successes += 1


# Stirling's series tail log(k!) - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi)/2], k = 0..9.
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k):
    if k <= 9:
        return _STIRLING_TAIL[int(k)]
    square = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / square) / square) / (k + 1)


def _btrs(words, count, p):
    """Hormann's BTRS (1993) for count * p >= 10, p <= 1/2."""
    spread = math.sqrt(count * p * (1 - p))
    b = 1.15 + 2.53 * spread
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = count * p + 0.5
    v_r = 0.92 - 4.2 / b
    r = p / (1 - p)
    alpha = (2.83 + 5.1 / b) * spread
    m = math.floor((count + 1) * p)
    while True:
        u = words.uniform() - 0.5
        v = words.uniform()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + c)
        if k < 0 or k > count:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * math.log((m + 1) / (r * (count - m + 1)))
                 + (count + 1) * math.log((count - m + 1) / (count - k + 1))
                 + (k + 0.5) * math.log(r * (count - k + 1) / (k + 1))
                 + _stirling_tail(m) + _stirling_tail(count - m) - _stirling_tail(k)
                 - _stirling_tail(count - k))
        if v <= bound:
            return k
