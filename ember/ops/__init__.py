"""Differentiable primitives, one Function per op, grouped in families; this is their functional API."""
from .elementwise import (  # noqa: F401
    abs, add, allclose, bitwise_not, cast, ceil, clone, clamp, clip, copy_into, cos, div, eq, equal, exp,
    fill_like, floor, floor_divide, ge, greater, greater_equal, gt, isclose, isfinite, isinf, isnan,
    le, less, less_equal, log, log1p, logical_and, logical_not, logical_or, logical_xor, lt,
    maximum, minimum, mul, ne, neg, negative, not_equal, pow, reciprocal, relu, remainder, round,
    rsqrt, sigmoid, sign, sin, sqrt, square, sub, tanh, true_divide, trunc)
from .reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, count_nonzero, cumsum, log_softmax, logsumexp, max,
    mean, min, prod, softmax, std, sum, var)
from .shape import (  # noqa: F401
    cat, chunk, concat, concatenate, contiguous, expand, expand_as, flatten, movedim, permute,
    repeat, reshape, split, squeeze, stack, swapaxes, t, transpose, unflatten, unsqueeze, view,
    flip)
from .index import (  # noqa: F401
    gather, getitem, index_select, masked_fill, nonzero, setitem, take_along_dim, where)
from .linalg import bmm, dot, matmul, mm, mv, outer  # noqa: F401
# The wider tensor API: math, sorting and statistics, shape, scatter, linear algebra.
from .elementwise import (  # noqa: F401
    absolute, acos, acosh, addcdiv, addcmul, arccos, arccosh, arcsin, arcsinh, arctan, arctan2,
    arctanh, asin, asinh, atan, atan2, atanh, bitwise_and, bitwise_left_shift, bitwise_or,
    bitwise_right_shift, bitwise_xor, clamp_max, clamp_min, copysign, cosh, deg2rad, divide,
    erf, erfc, erfinv, exp2, expm1, float_power, fmax, fmin, fmod, frac, frexp, gcd, heaviside,
    hypot, isneginf, isposinf, isreal, lcm, ldexp, lerp, log10, log2, logaddexp, logaddexp2,
    logit, multiply, nan_to_num, rad2deg, sgn, signbit, sinc, sinh, subtract, tan, xlogy)
from .reduce import (  # noqa: F401
    aminmax, argsort, corrcoef, cov, cummax, cummin, cumprod, cumulative_trapezoid, histc,
    kthvalue, logcumsumexp, median, mode, msort, nanmean, nanmedian, nansum, norm, quantile,
    sort, std_mean, topk, trapezoid, unique, unique_consecutive, var_mean, vector_norm)
from .shape import (  # noqa: F401
    atleast_1d, atleast_2d, atleast_3d, block_diag, broadcast_shapes, broadcast_tensors,
    broadcast_to, cartesian_prod, column_stack, combinations, diag, diag_embed, diagflat,
    diagonal, diff, dsplit, dstack, fliplr, flipud, hsplit, hstack, is_complex,
    is_floating_point, is_nonzero, is_same_size, is_tensor, meshgrid, moveaxis, narrow, numel,
    ravel, repeat_interleave, roll, rot90, row_stack, select, sum_to_size, swapdims,
    tensor_split, tile, trace, tril, triu, unbind, unfold, unravel_index, vander, vsplit, vstack)
from .index import (  # noqa: F401
    argwhere, bincount, bucketize, fill_diagonal, index_add, index_copy, index_fill, index_put,
    isin, masked_scatter, masked_select, scatter, scatter_add, scatter_reduce, searchsorted,
    take, tril_indices, triu_indices)
from .linalg import (  # noqa: F401
    addbmm, addmm, addmv, addr, baddbmm, cdist, chain_matmul, cholesky, cross, det, dist,
    einsum, ger, inner, inverse, kron, logdet, matrix_power, multi_dot, slogdet, tensordot, vdot)
