"""Differentiable primitives, one Function per op, grouped in families; this is their functional API."""
from .elementwise import (  # noqa: F401
    abs, add, allclose, bitwise_not, cast, ceil, clone, clamp, clip, copy_into, cos, div, eq, equal, exp,
    fill_like, floor, floor_divide, ge, greater, greater_equal, gt, isclose, isfinite, isinf, isnan,
    le, less, less_equal, log, log1p, logical_and, logical_not, logical_or, logical_xor, lt,
    maximum, minimum, mul, ne, neg, negative, not_equal, pow, reciprocal, relu, remainder, round,
    rsqrt, sigmoid, sign, sin, sqrt, square, sub, tanh, true_divide, trunc, where)
from .elementwise import (  # noqa: F401
    acos, arccos, arcsin, arctan, arctan2, asin, atan, atan2, clamp_max, clamp_min, cosh, erf,
    exp2, hypot, lerp, log10, log2, logaddexp, sinh, tan)
from .reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, count_nonzero, cumsum, log_softmax, logsumexp, max,
    mean, min, prod, softmax, std, sum, var)
from .reduce import (  # noqa: F401
    argsort, cumprod, median, nansum, norm, sort, topk, unique, vector_norm)
from .shape import (  # noqa: F401
    cat, chunk, concat, concatenate, contiguous, expand, expand_as, flatten, movedim, permute,
    repeat, reshape, split, squeeze, stack, swapaxes, t, transpose, unflatten, unsqueeze, view,
    flip)
from .shape import (  # noqa: F401
    broadcast_to, diag, diff, is_floating_point, is_tensor, meshgrid, narrow, numel,
    repeat_interleave, roll, tile, trace, tril, triu, unbind)
from .index import (  # noqa: F401
    gather, getitem, index_select, masked_fill, nonzero, setitem, take_along_dim)
from .index import index_add, index_fill, scatter, scatter_add  # noqa: F401
from .elementwise import addcdiv, addcmul  # noqa: F401
from .linalg import bmm, dot, matmul, mm, mv, outer  # noqa: F401
from .linalg import (  # noqa: F401
    addmm, baddbmm, cross, dist, einsum, inner, kron, tensordot, vdot)
from .elementwise import (  # noqa: F401
    absolute, acosh, arccosh, arcsinh, arctanh, asinh, atanh, deg2rad, divide, expm1, fmod, frac,
    logit, multiply, nan_to_num, rad2deg, sgn, signbit, subtract)
from .shape import (  # noqa: F401
    atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, column_stack,
    diagonal, dstack, fliplr, flipud, hstack, moveaxis, ravel, rot90, row_stack, select,
    swapdims, tensor_split, vstack)
from .index import (  # noqa: F401
    argwhere, bincount, bucketize, isin, masked_select, searchsorted, take, tril_indices,
    triu_indices)
from .reduce import (  # noqa: F401
    aminmax, cummax, cummin, kthvalue, msort, nanmean, quantile, std_mean, var_mean)
from .shape import block_diag, cartesian_prod, unfold  # noqa: F401
from .index import fill_diagonal, index_copy, masked_scatter  # noqa: F401
from .linalg import cdist, cholesky, det, inverse, logdet, slogdet  # noqa: F401
from .elementwise import fmax, fmin, heaviside, logaddexp2, xlogy  # noqa: F401
from .reduce import logcumsumexp, nanmedian  # noqa: F401
from .shape import dsplit, hsplit, sum_to_size, vsplit  # noqa: F401
from .elementwise import erfc, erfinv  # noqa: F401
from .reduce import mode  # noqa: F401
from .index import index_put, scatter_reduce  # noqa: F401
from .elementwise import copysign, float_power, isneginf, isposinf, isreal  # noqa: F401
from .elementwise import (  # noqa: F401
    bitwise_and, bitwise_left_shift, bitwise_or, bitwise_right_shift, bitwise_xor, frexp, gcd,
    lcm, ldexp)
from .shape import diag_embed, diagflat, vander  # noqa: F401
from .linalg import (  # noqa: F401
    addbmm, addmv, addr, chain_matmul, matrix_power, multi_dot)
from .reduce import corrcoef, cov, histc, trapezoid, unique_consecutive  # noqa: F401
