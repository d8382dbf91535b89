"""Differentiable primitives, one Function per op, grouped in families; this is their functional API."""
from .elementwise import (  # noqa: F401
    abs, add, allclose, bitwise_not, cast, ceil, clone, clamp, clip, copy_into, cos, div, eq, equal, exp,
    fill_like, floor, floor_divide, ge, greater, greater_equal, gt, isclose, isfinite, isinf, isnan,
    le, less, less_equal, log, log1p, logical_and, logical_not, logical_or, logical_xor, lt,
    maximum, minimum, mul, ne, neg, negative, not_equal, pow, reciprocal, relu, remainder, round,
    rsqrt, sigmoid, sign, sin, sqrt, square, sub, tanh, true_divide, trunc, where)
from .reduce import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, count_nonzero, cumsum, log_softmax, logsumexp, max,
    mean, min, prod, softmax, std, sum, var)
from .shape import (  # noqa: F401
    cat, chunk, concat, concatenate, contiguous, expand, expand_as, flatten, movedim, permute,
    repeat, reshape, split, squeeze, stack, swapaxes, t, transpose, unflatten, unsqueeze, view,
    flip)
from .index import (  # noqa: F401
    gather, getitem, index_select, masked_fill, nonzero, setitem, take_along_dim)
from .linalg import bmm, dot, matmul, mm, mv, outer  # noqa: F401
