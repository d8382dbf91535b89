"""``torch.quasirandom``: the Sobol low-discrepancy sequence, PyTorch's SobolEngine point for point.

The direction numbers are Joe and Kuo's (search criterion D(6), 21201 dimensions), the table
SciPy ships with ``scipy.stats.qmc``; the Gray-code walk, the random digital shift and the
linear matrix scrambling follow Bratley & Fox (1988) and Owen (1998) as PyTorch orders them, so
that a seeded engine draws PyTorch's points bit for bit.
"""
import importlib.resources

import numpy as np

from . import _dtype
from ._factories import from_numpy, randint, zeros
from ._random import Generator
from .ops import cat

__all__ = ["SobolEngine"]

_direction_numbers = None


def _joe_kuo_table():
    """(primitive polynomials, initial direction numbers) for all 21201 dimensions, read once
    from SciPy's copy of Joe and Kuo's file."""
    global _direction_numbers
    if _direction_numbers is None:
        try:
            resource = importlib.resources.files("scipy.stats") / "_sobol_direction_numbers.npz"
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "torch.quasirandom.SobolEngine: ember reads Joe and Kuo's Sobol direction "
                "numbers from SciPy's copy; install SciPy (pip install scipy)") from None
        with resource.open("rb") as handle, np.load(handle) as table:
            _direction_numbers = (table["poly"].astype(np.int64),
                                  table["vinit"].astype(np.int64))
    return _direction_numbers


def _parity(values):
    """The parity (popcount mod 2) of each non-negative int64 below 2**32."""
    for shift in (16, 8, 4, 2, 1):
        values = values ^ (values >> shift)
    return values & 1


def _lowest_zero_bits(start, count):
    """For k in [start, start + count): the index of the lowest 0 bit of k (Gray-code order)."""
    k = np.arange(start, start + count, dtype=np.int64)
    lowest = (k + 1) & ~k
    return np.log2(lowest).astype(np.int64)


class SobolEngine:
    """A generator of (optionally scrambled) Sobol points in [0, 1)^dimension; ``scramble=True``
    draws its random shift and matrices from ``torch.Generator().manual_seed(seed)`` (the
    default generator when ``seed`` is None), as PyTorch's does."""

    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if dimension > self.MAXDIM or dimension < 1:
            raise ValueError("Supported range of dimensionality "
                             f"for SobolEngine is [1, {self.MAXDIM}]")
        self.seed = seed
        self.scramble = scramble
        self.dimension = dimension
        self.sobolstate = from_numpy(self._direction_matrix(dimension))
        if scramble:
            self._scramble()
        else:
            self.shift = zeros(dimension, dtype=_dtype.int64)
        self.quasi = self.shift.clone()
        # PyTorch divides in the default dtype at construction: the first point keeps that
        # rounding whatever dtype draw() asks for later.
        self._first_point = (self.quasi / 2 ** self.MAXBIT).reshape(1, -1)
        self.num_generated = 0

    @classmethod
    def _direction_matrix(cls, dimension):
        """The (dimension, MAXBIT) direction numbers v[d, j], scaled to 2**(MAXBIT - 1 - j)."""
        polynomials, initial = _joe_kuo_table()
        polynomials = polynomials[:dimension]
        # degree m of each primitive polynomial (its bit length - 1); dimension 0 has m = 0
        degree = np.frexp(polynomials.astype(np.float64))[1].astype(np.int64) - 1
        state = np.ones((dimension, cls.MAXBIT), dtype=np.int64)
        rows = np.arange(dimension)
        for j in range(cls.MAXBIT):
            given = j < degree
            if j < initial.shape[1]:
                state[given, j] = initial[:dimension, j][given]
            recurrent = ~given
            if not recurrent.any():
                continue
            # v_j = v_{j-m} xor sum_k a_k 2^k v_{j-k} over the polynomial's inner coefficients
            value = state[rows, np.maximum(j - degree, 0)]
            for k in range(int(degree.max())):
                coefficient = (polynomials >> np.maximum(degree - 1 - k, 0)) & 1
                use = recurrent & (k < degree) & (coefficient == 1)
                previous = state[rows, np.maximum(j - k - 1, 0)]
                value = np.where(use, value ^ (previous << (k + 1)), value)
            state[recurrent, j] = value[recurrent]
        return state << np.arange(cls.MAXBIT - 1, -1, -1, dtype=np.int64)

    def _scramble(self):
        """Owen's linear matrix scrambling and a random digital shift, drawn as PyTorch draws
        them: the shift bits first, then the lower-triangular matrices."""
        generator = None
        if self.seed is not None:
            generator = Generator()
            generator.manual_seed(self.seed)
        shift_bits = randint(2, (self.dimension, self.MAXBIT), generator=generator).numpy()
        self.shift = from_numpy(shift_bits @ (np.int64(1) << np.arange(self.MAXBIT)))
        matrices = randint(2, (self.dimension, self.MAXBIT, self.MAXBIT),
                           generator=generator).numpy()
        matrices = np.tril(matrices)
        diagonal = np.arange(self.MAXBIT)
        matrices[:, diagonal, diagonal] = 1
        # row p of each matrix as an integer, its column k the bit 2**(MAXBIT - 1 - k)
        rows = matrices @ (np.int64(1) << np.arange(self.MAXBIT - 1, -1, -1))
        state = self.sobolstate.numpy()
        # new v[d, j] has bit (MAXBIT - 1 - p) = parity(row p & v[d, j])
        bits = _parity(rows[:, :, None] & state[:, None, :])
        weights = np.int64(1) << np.arange(self.MAXBIT - 1, -1, -1)
        state[...] = np.einsum("dpj,p->dj", bits, weights)

    def _walk(self, count, start):
        """The Gray-code states after each of ``count`` steps from ``self.quasi``, indices from
        ``start``, as a (count, dimension) int64 array."""
        columns = _lowest_zero_bits(start, count)
        steps = self.sobolstate.numpy()[:, columns].T
        walked = np.bitwise_xor.accumulate(steps, axis=0) ^ self.quasi.numpy()[None, :]
        return walked

    def _draw(self, count, start, dtype):
        walked = self._walk(count, start)
        if count:
            self.quasi = from_numpy(walked[-1].copy())
        numpy_dtype = dtype.numpy
        return from_numpy(walked.astype(numpy_dtype) * numpy_dtype.type(2.0 ** -self.MAXBIT))

    def draw(self, n=1, out=None, dtype=None):
        """The next ``n`` points of the sequence, an (n, dimension) tensor."""
        if dtype is None:
            dtype = _dtype.get_default_dtype()
        if dtype not in (_dtype.float32, _dtype.float64) and \
                not (self.num_generated == 0 and n == 1):
            raise NotImplementedError(f'"_sobol_engine_draw" not implemented for '
                               f"'{dtype._scalar_type}'")
        if self.num_generated == 0:
            if n == 1:
                result = self._first_point.to(dtype)
            else:
                rest = self._draw(n - 1, 0, dtype)
                result = cat((self._first_point.to(dtype), rest), dim=-2)
        else:
            result = self._draw(n, self.num_generated - 1, dtype)
        self.num_generated += n
        if out is not None:
            out.resize_as_(result).copy_(result)
            return out
        return result

    def draw_base2(self, m, out=None, dtype=None):
        """The next ``2**m`` points; the total drawn must stay a power of 2 (Sobol balance)."""
        n = 2 ** m
        total_n = self.num_generated + n
        if not (total_n & (total_n - 1) == 0):
            raise ValueError("The balance properties of Sobol' points require "
                             f"n to be a power of 2. {self.num_generated} points have been "
                             f"previously generated, then: n={self.num_generated}+2**{m}="
                             f"{total_n}. If you still want to do this, please use "
                             "'SobolEngine.draw()' instead.")
        return self.draw(n=n, out=out, dtype=dtype)

    def reset(self):
        """Back to the first point."""
        self.quasi.copy_(self.shift)
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip the next ``n`` points."""
        start = 0 if self.num_generated == 0 else self.num_generated - 1
        count = n - 1 if self.num_generated == 0 else n
        if count > 0:
            self.quasi = from_numpy(self._walk(count, start)[-1].copy())
        self.num_generated += n
        return self

    def __repr__(self):
        settings = [f"dimension={self.dimension}"]
        if self.scramble:
            settings.append("scramble=True")
        if self.seed is not None:
            settings.append(f"seed={self.seed}")
        return f"{type(self).__name__}({', '.join(settings)})"
