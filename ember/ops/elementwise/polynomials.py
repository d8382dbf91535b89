"""The classical orthogonal polynomials of torch.special (Chebyshev T, U, V, W and their shifted
forms, Hermite H and He, Laguerre L, Legendre P) on arrays, elementwise in x and the degree n.

Each follows PyTorch's kernel (ATen/native/Math.h): n < 0 gives 0, the values at the ends of
the interval are exact, Chebyshev degrees above a few use the trigonometric form inside the
interval, and the rest runs the three-term recurrence in the array's dtype, each step's
product and sum rounded once, as PyTorch's compiled kernel does (a fused multiply-add). The
recurrence is vectorised over the elements, one step per degree up to the largest n asked for.
"""
import numpy as np

__all__ = []


def _fused(a, b, c):
    """a * b + c rounded once for float32 (exact in float64, then rounded), as a fused
    multiply-add; float64 rounds the product too (NumPy has no fused multiply-add)."""
    if a.dtype == np.float32 or getattr(b, "dtype", None) == np.float32:
        wide = np.multiply(a, b, dtype=np.float64)
        wide += c
        return wide.astype(np.float32)
    return a * b + c


def degrees(n, dtype):
    """The degree as PyTorch reads it: the value in the computing dtype, truncated to int64
    (NaN and infinities, undefined there, are taken as -1: a zero polynomial)."""
    values = np.asarray(n).astype(dtype)
    finite = np.isfinite(values)
    return np.where(finite, np.trunc(np.where(finite, values, -1)), -1).astype(np.int64)


def _recurrence(x, n, first, step, stop_at_nan=True, start=2, last=None):
    """p_0 = 1, p_1 = first, then p_k = step(k, p_{k-1}, p_{k-2}) for k = start ... last(n),
    where each element stops at its own degree (or, with ``stop_at_nan``, at a NaN)."""
    last = n if last is None else last
    previous = np.ones_like(x)
    current = first.copy()
    top = int(last.max(initial=start - 1))
    for k in range(start, top + 1):
        active = last >= k
        if stop_at_nan:
            active &= ~np.isnan(current)
        if not active.any():
            break
        following = step(k, current, previous)
        previous = np.where(active, current, previous)
        current = np.where(active, following, current)
    return current


def _choose(n, cases, default):
    """np.select over (condition, value) pairs in order, the first true one winning."""
    conditions = [condition for condition, _ in cases]
    values = [np.broadcast_to(value, n.shape) for _, value in cases]
    return np.select(conditions, values, default)


def _chebyshev(x, n, kind, shifted):
    """T, U, V or W (``kind``), of x or (shifted) of 2x - 1."""
    dtype = x.dtype.type
    one = dtype(1)
    argument = x + x - one if shifted else x
    doubled = argument + argument
    first = {"t": argument, "u": doubled, "v": doubled - one, "w": doubled + one}[kind]
    size = n.astype(x.dtype)
    even = n % 2 == 0
    odd_sign = np.where(even, one, -one)
    if shifted:
        at_top, at_bottom = x == one, x == dtype(0)
    else:
        at_top = np.abs(x) == one
        at_bottom = at_top & (x < 0)
        at_top = at_top & (x > 0)
    threshold = {"t": 6, "u": 8, "v": 8, "w": 8}[kind]
    if shifted:
        threshold = 4 if kind == "w" else 6
    inside = (n > threshold) & (np.abs(argument) < one)
    # Only the elements no closed form covers run the recurrence (to their own degree).
    recurring = ~((n < 0) | at_top | at_bottom | inside)
    loop = _recurrence(argument, np.where(recurring, n, 1), first,
                       lambda k, q, p: _fused(doubled, q, -p))
    loop = np.where(n == 0, one, np.where(n == 1, first, loop))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        angle = np.arccos(np.where(inside, argument, 0))
        if kind == "t":
            ends = (one, odd_sign)
            trig = np.cos(size * angle)
        elif kind == "u":
            ends = (size + one, odd_sign * (size + one))
            sine = np.sin(angle)
            trig = np.where(sine != 0, np.sin((size + one) * angle) / sine,
                            (size + one) * np.cos((size + one) * angle) / argument)
        elif kind == "v":
            ends = (one, odd_sign * (size + size + one))
            half = angle / dtype(2)
            trig = np.where(np.sin(half) != one, np.cos((size + dtype(0.5)) * angle) / np.cos(half),
                            odd_sign * (size + size + one))
        else:
            ends = (size + size + one, odd_sign)
            half = angle / dtype(2)
            trig = np.where(np.cos(half) != one, np.sin((size + dtype(0.5)) * angle) / np.sin(half),
                            np.where(argument > 0, size + size + one, odd_sign))
    return _choose(n, [(n < 0, dtype(0)), (at_top, ends[0]), (at_bottom, ends[1]),
                       (inside, trig)], loop).astype(x.dtype)


def chebyshev_polynomial(x, n, kind, shifted=False):
    with np.errstate(invalid="ignore", over="ignore"):
        return _chebyshev(x, n, kind, shifted)


# Above these degrees PyTorch's Hermite polynomials are NaN (its recurrence would overflow).
_HERMITE_LIMIT = {np.dtype(np.float32): 128, np.dtype(np.float64): 512}


def hermite_polynomial(x, n, physicists):
    """H_n (``physicists``: H_{k+1} = 2x H_k - 2k H_{k-1}) or He_n (He_{k+1} = x He_k -
    k He_{k-1})."""
    dtype = x.dtype.type
    with np.errstate(invalid="ignore", over="ignore"):
        if physicists:
            doubled = x + x
            # PyTorch's loop variable runs over 2k, so the recurrence's k arrives doubled.
            loop = _recurrence(x, n, doubled,
                               lambda k, q, p: _fused(doubled, q, -(dtype(2 * (k - 1)) * p)),
                               stop_at_nan=False)
            first = doubled
        else:
            loop = _recurrence(x, n, x, lambda k, q, p: _fused(x, q, -(dtype(k - 1) * p)),
                               stop_at_nan=False)
            first = x
    limit = _HERMITE_LIMIT.get(x.dtype, 1024)
    return _choose(n, [(n < 0, dtype(0)), (n == 0, dtype(1)), (n == 1, first),
                       (n > limit, dtype(np.nan))], loop).astype(x.dtype)


def laguerre_polynomial(x, n):
    """L_n: (k + 1) L_{k+1} = (2k + 1 - x) L_k - k L_{k-1}; 1 at x = 0."""
    dtype = x.dtype.type
    one = dtype(1)
    first = one - x
    with np.errstate(invalid="ignore", over="ignore"):
        loop = _recurrence(x, n, first, lambda k, q, p: _fused(
            dtype(2 * (k - 1)) + (one - x), q, -(dtype(k - 1) * p)) / dtype(k))
    return _choose(n, [(n < 0, dtype(0)), (np.abs(x) == 0, one), (n == 0, one),
                       (n == 1, first)], loop).astype(x.dtype)


def legendre_polynomial(x, n):
    """P_n: (k + 1) P_{k+1} = (2k + 1) x P_k - k P_{k-1}; +-1 at x = +-1."""
    dtype = x.dtype.type
    one = dtype(1)
    with np.errstate(invalid="ignore", over="ignore"):
        loop = _recurrence(x, n, x, lambda k, q, p: _fused(
            dtype(2 * k - 1) * x, q, -(dtype(k - 1) * p)) / dtype(k))
    ends = np.abs(x) == one
    end_value = np.where((x > 0) | (n % 2 == 0), one, -one)
    return _choose(n, [(n < 0, dtype(0)), (ends, end_value), (n == 0, one), (n == 1, x)],
                   loop).astype(x.dtype)
