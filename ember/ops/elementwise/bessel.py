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




# ---- J0, J1, Y0, Y1 ---------------------------------------------------------------------------
# Up to _NEAR: J_n by its power series below 1 and the trapezoidal rule over a full period of
# Bessel's integral above (geometric convergence once the point count exceeds x), Y_n from its
# power series below _SERIES_BELOW
# and from its two integrals (Gauss-Legendre) above; beyond _NEAR, Hankel's asymptotic series.
_NEAR = 25.0
_SERIES_BELOW = 5.0
_PERIOD_POINTS = 96
_SERIES_TERMS = 40
_QUADRATURE_POINTS = 96
_HANKEL_TERMS = 24
_EULER_GAMMA = 0.5772156649015329


def _bessel_j_periodic(x, order):
    """J_order(x) = (1 / 2 pi) integral over a period of cos(order t - x sin t)."""
    t = np.arange(_PERIOD_POINTS) * (2 * np.pi / _PERIOD_POINTS)
    return np.cos(order * t - x[:, None] * np.sin(t)).mean(axis=1)


def _bessel_j_series(x, order):
    """J_order(x) = (x/2)^order sum_k (-x^2/4)^k / (k! (k + order)!), for small x."""
    square = (x / 2) ** 2
    term = np.ones_like(x) if order == 0 else x / 2
    total = term.copy()
    for k in range(1, _SERIES_TERMS):
        term = -term * square / (k * (k + order))
        total += term
    return total


def _bessel_j(x, order):
    """J_order at 0 <= x <= _NEAR: the power series below 1 (it keeps tiny values' relative
    precision), the periodic integral above."""
    small = x < 1.0
    out = np.empty_like(x)
    out[small] = _bessel_j_series(x[small], order)
    out[~small] = _bessel_j_periodic(x[~small], order)
    return out


def _hankel(x, order):
    """(J_order(x), Y_order(x)) from Hankel's expansion sqrt(2 / (pi x)) (P cos - Q sin, ...)."""
    mu = 4.0 * order * order
    p = np.ones_like(x)
    q = np.zeros_like(x)
    term = np.ones_like(x)
    for k in range(1, 2 * _HANKEL_TERMS):
        term = term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * x)
        if k % 2:
            q += term if (k // 2) % 2 == 0 else -term
        else:
            p += term if (k // 2) % 2 == 0 else -term
    phase = x - (0.5 * order + 0.25) * np.pi
    scale = np.sqrt(2.0 / (np.pi * x))
    cosine, sine = np.cos(phase), np.sin(phase)
    return scale * (p * cosine - q * sine), scale * (p * sine + q * cosine)


def _bessel_y_series(x, order, j_values):
    """Y_0 or Y_1 from the power series with the logarithm (J_order given)."""
    half = x / 2
    square = half * half
    logarithm = np.log(half)
    if order == 0:
        total = np.zeros_like(x)
        term = np.ones_like(x)
        harmonic = 0.0
        for k in range(1, _SERIES_TERMS):
            term = -term * square / (k * k)
            harmonic += 1.0 / k
            total -= harmonic * term
        return (2 / np.pi) * ((logarithm + _EULER_GAMMA) * j_values + total)
    total = np.zeros_like(x)
    term = half.copy()  # (x/2)^(2k+1) / (k! (k+1)!) with sign (-1)^k, k = 0
    harmonic = 0.0
    for k in range(_SERIES_TERMS):
        digammas = -2 * _EULER_GAMMA + 2 * harmonic + 1.0 / (k + 1)
        total += digammas * term
        harmonic += 1.0 / (k + 1)
        term = -term * square / ((k + 1) * (k + 2))
    return (2 / np.pi) * j_values * logarithm - 2 / (np.pi * x) - total / np.pi


def _bessel_y_integrals(x, order):
    """Y_order(x) = (1/pi) int_0^pi sin(x sin t - order t) dt
    - (1/pi) int_0^inf (e^(order t) + (-1)^order e^(-order t)) e^(-x sinh t) dt."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_POINTS)
    angle = (nodes + 1) * (np.pi / 2)
    first = np.sin(x[:, None] * np.sin(angle) - order * angle) @ (weights * (np.pi / 2))
    reach = np.arcsinh(40.0 / x)[:, None]  # where e^(-x sinh t) is below e^-40
    t = (nodes + 1) / 2 * reach
    growth = np.exp(order * t) + (-1) ** order * np.exp(-order * t)
    second = (growth * np.exp(-x[:, None] * np.sinh(t))) @ weights * (reach[:, 0] / 2)
    return (first - second) / np.pi


def bessel(x, order, second_kind):
    """J_order(x) or (``second_kind``) Y_order(x), order 0 or 1, in x's dtype, with PyTorch's
    values at the edges: J is NaN at the infinities, Y is -inf at 0 and NaN below 0 and at
    the infinities."""
    wide = np.asarray(x, dtype=np.float64)
    flat = wide.reshape(-1)
    out = np.full(flat.shape, np.nan)
    magnitude = np.abs(flat)
    finite = np.isfinite(flat)
    near = finite & (magnitude <= _NEAR)
    far = finite & (magnitude > _NEAR)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not second_kind:
            out[near] = _bessel_j(magnitude[near], order)
            out[far] = _hankel(magnitude[far], order)[0]
            if order == 1:
                out = np.where(flat < 0, -out, out)
        else:
            positive_near = near & (flat > 0)
            small = positive_near & (flat < _SERIES_BELOW)
            middle = positive_near & (flat >= _SERIES_BELOW)
            values = flat[small]
            out[small] = _bessel_y_series(values, order, _bessel_j(values, order))
            out[middle] = _bessel_y_integrals(flat[middle], order)
            out[far & (flat > 0)] = _hankel(flat[far & (flat > 0)], order)[1]
            out[flat == 0] = -np.inf
    return out.reshape(wide.shape).astype(x.dtype)


# ---- the Airy function Ai ----------------------------------------------------------------------
_AIRY_AT_ZERO = 0.3550280538878172  # Ai(0) = 1 / (3^(2/3) Gamma(2/3))
_AIRY_SLOPE_AT_ZERO = 0.2588194037928068  # -Ai'(0) = 1 / (3^(1/3) Gamma(1/3))
_AIRY_SERIES_BELOW = 2.0
_AIRY_ZERO_ABOVE = 103.892  # PyTorch's value is 0 beyond this (Ai is below float64 there)


def _airy_series(x):
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x), f and g its two Maclaurin series in x^3."""
    cube = x * x * x
    f_term = np.ones_like(x)
    g_term = x.copy()
    f_total = f_term.copy()
    g_total = g_term.copy()
    for k in range(1, _SERIES_TERMS):
        f_term = f_term * cube / ((3 * k - 1) * (3 * k))
        g_term = g_term * cube / ((3 * k) * (3 * k + 1))
        f_total += f_term
        g_total += g_term
    return _AIRY_AT_ZERO * f_total - _AIRY_SLOPE_AT_ZERO * g_total


def _bessel_j_fractional(z, order):
    """J_order(z) for a fractional order by Schlafli's integrals: (1/pi) int_0^pi
    cos(order t - z sin t) dt - (sin(order pi) / pi) int_0^inf e^(-z sinh t - order t) dt."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_POINTS)
    angle = (nodes + 1) * (np.pi / 2)
    first = np.cos(order * angle - z[:, None] * np.sin(angle)) @ (weights * (np.pi / 2))
    reach = np.arcsinh(40.0 / z)[:, None]
    t = (nodes + 1) / 2 * reach
    second = np.exp(-z[:, None] * np.sinh(t) - order * t) @ weights * (reach[:, 0] / 2)
    return (first - np.sin(order * np.pi) * second) / np.pi


def _airy_oscillating_asymptotic(magnitude, zeta):
    """Ai(-x) ~ (sin(zeta + pi/4) P - cos(zeta + pi/4) Q) / (sqrt(pi) x^(1/4))."""
    p = np.ones_like(zeta)
    q = np.zeros_like(zeta)
    term = np.ones_like(zeta)
    for k in range(1, 2 * _HANKEL_TERMS):
        term = term * ((6 * k - 5) * (6 * k - 3) * (6 * k - 1)) / ((2 * k - 1) * 216 * k * zeta)
        sign = 1 if (k // 2) % 2 == 0 else -1
        if k % 2:
            q += sign * term
        else:
            p += sign * term
    phase = zeta + np.pi / 4
    return (np.sin(phase) * p - np.cos(phase) * q) / (np.sqrt(np.pi) * magnitude ** 0.25)


def airy_ai(x):
    """Ai(x) in x's dtype: the Maclaurin series near 0, K_1/3 above, J_+-1/3 below (Hankel's
    form far below); PyTorch's NaN at the infinities and 0 beyond 103.892."""
    wide = np.asarray(x, dtype=np.float64)
    flat = wide.reshape(-1)
    out = np.full(flat.shape, np.nan)
    finite = np.isfinite(flat)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        near = finite & (np.abs(flat) <= _AIRY_SERIES_BELOW)
        out[near] = _airy_series(flat[near])
        above = finite & (flat > _AIRY_SERIES_BELOW) & (flat <= _AIRY_ZERO_ABOVE)
        values = flat[above]
        zeta = 2.0 / 3.0 * values ** 1.5
        out[above] = (np.sqrt(values / 3) / np.pi * _scaled_k_float64(zeta, 1.0 / 3.0)
                      * np.exp(-zeta))
        out[finite & (flat > _AIRY_ZERO_ABOVE)] = 0.0
        below = finite & (flat < -_AIRY_SERIES_BELOW)
        magnitude = -flat[below]
        zeta = 2.0 / 3.0 * magnitude ** 1.5
        result = np.empty_like(magnitude)
        close = zeta <= _NEAR
        result[close] = np.sqrt(magnitude[close]) / 3 * (
            _bessel_j_fractional(zeta[close], 1.0 / 3.0)
            + _bessel_j_fractional(zeta[close], -1.0 / 3.0))
        result[~close] = _airy_oscillating_asymptotic(magnitude[~close], zeta[~close])
        out[below] = result
    return out.reshape(wide.shape).astype(x.dtype)
