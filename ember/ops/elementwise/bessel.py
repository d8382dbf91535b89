"""Bessel functions of torch.special that PyTorch gives no derivative: the modified Bessel
functions of the second kind K0, K1 (and their exp(x)-scaled forms), on arrays.

K_nu(x) = integral over t >= 0 of exp(-x cosh t) cosh(nu t): the integrand is analytic and
decays doubly exponentially, so the trapezoidal rule converges geometrically in the step. The
scaled form exp(x) K_nu(x) integrates exp(-2 x sinh^2(t / 2)) cosh(nu t), which neither
underflows nor cancels; K_nu is that times exp(-x). Each element gets its own step (finer for
large x, where the integrand is a narrow peak) and its own number of points (to where the
integrand falls below e^-50 of its peak); elements needing similar counts are computed together.
"""
import numpy as np

__all__ = []

_COARSEST_STEP = 0.1
_CUTOFF = 50.0  # the integrand is cut where x (cosh t - 1) reaches this
_CHUNK_ENTRIES = 1 << 21


def _scaled_k_float64(x, order):
    """exp(x) K_order(x) for positive, finite float64 ``x`` (a 1-D array)."""
    step = np.where(x <= 4.0, _COARSEST_STEP, 0.2 / np.sqrt(x))
    reach = np.arccosh(1.0 + _CUTOFF / x)
    counts = np.ceil(reach / step).astype(np.int64) + 2
    buckets = 2 ** np.ceil(np.log2(counts)).astype(np.int64)
    out = np.empty_like(x)
    for points in np.unique(buckets):
        members = np.flatnonzero(buckets == points)
        rows = max(1, _CHUNK_ENTRIES // int(points))
        ladder = np.arange(int(points), dtype=np.float64)
        weights = np.ones(int(points))
        weights[0] = 0.5
        for start in range(0, members.size, rows):
            chosen = members[start:start + rows]
            values = x[chosen, None]
            t = step[chosen, None] * ladder
            half_sinh = np.sinh(t / 2)
            exponent = -2.0 * values * half_sinh * half_sinh
            if order:  # log cosh(order t), which stays finite where cosh overflows
                exponent += order * t + np.log1p(np.exp(-2 * order * t)) - np.log(2.0)
            integrand = np.exp(exponent)
            out[chosen] = step[chosen] * (integrand @ weights)
    return out


def modified_bessel_k(x, order, scaled):
    """K_order(x) (exp(x) K_order(x) when ``scaled``) in x's dtype: inf at 0, NaN below 0 and
    at NaN, 0 at +inf (PyTorch's values there)."""
    wide = np.asarray(x, dtype=np.float64)
    flat = wide.reshape(-1)
    out = np.full(flat.shape, np.nan)
    positive = (flat > 0) & np.isfinite(flat)
    values = flat[positive]
    result = _scaled_k_float64(values, order) if values.size else values
    if not scaled:
        result = result * np.exp(-values)
    out[positive] = result
    out[flat == 0] = np.inf
    out[np.isposinf(flat)] = 0.0
    return out.reshape(wide.shape).astype(x.dtype)


