"""ember: PyTorch's semantics for autograd, grad modes and module modes, on NumPy."""
from . import _dtype
from ._dtype import (  # noqa: F401
    dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
    set_default_dtype, uint8)
from ._factories import (  # noqa: F401
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like, linspace,
    multinomial, ones, ones_like, rand, rand_like, randint, randint_like, randn, randn_like,
    randperm, tensor, zeros, zeros_like)
from ._random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state)
from .autograd.grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
    set_grad_enabled)
from .ops import (  # noqa: F401
    abs, add, all, allclose, amax, amin, any, argmax, argmin, bmm, cat, ceil, chunk, clamp, clip,
    clone, concat, concatenate, cos, count_nonzero, cumsum, div, dot, eq, equal, exp, expand,
    flatten, flip, floor, floor_divide, gather, ge, gt, index_select, isclose, isfinite, isinf,
    isnan, le, log, log1p, log_softmax, logical_and, logical_not, logical_or, logical_xor,
    logsumexp, lt, masked_fill, matmul, max, maximum, mean, min, minimum, mm, movedim, mul, mv,
    ne, neg, negative, nonzero, outer, permute, pow, prod, reciprocal, relu, remainder, repeat,
    reshape, round, rsqrt, sigmoid, sign, sin, softmax, split, sqrt, square, squeeze, stack, std,
    sub, sum, swapaxes, t, take_along_dim, tanh, transpose, true_divide, trunc, unflatten,
    unsqueeze, var, where)
from .ops import (  # noqa: F401
    absolute, acos, acosh, addbmm, addcdiv, addcmul, addmm, addmv, addr, aminmax, arccos,
    arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, argsort, argwhere, asin, asinh, atan,
    atan2, atanh, atleast_1d, atleast_2d, atleast_3d, baddbmm, bincount, bitwise_and,
    bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift, bitwise_xor, block_diag,
    broadcast_shapes, broadcast_tensors, broadcast_to, bucketize, cartesian_prod, cdist,
    chain_matmul, cholesky, clamp_max, clamp_min, column_stack, combinations, copysign,
    corrcoef, cosh, cov, cross, cummax, cummin, cumprod, cumulative_trapezoid, deg2rad, det,
    diag, diag_embed, diagflat, diagonal, diff, dist, divide, dsplit, dstack, einsum, erf, erfc,
    erfinv, exp2, expm1, fliplr, flipud, float_power, fmax, fmin, fmod, frac, frexp, gcd, ger,
    heaviside, histc, hsplit, hstack, hypot, index_add, index_copy, index_fill, index_put,
    inner, inverse, is_complex, is_floating_point, is_nonzero, is_same_size, is_tensor, isin,
    isneginf, isposinf, isreal, kron, kthvalue, lcm, ldexp, lerp, log10, log2, logaddexp,
    logaddexp2, logcumsumexp, logdet, logit, masked_scatter, masked_select, matrix_power,
    median, meshgrid, mode, moveaxis, msort, multiply, nan_to_num, nanmean, nanmedian, nansum,
    narrow, norm, not_equal, numel, quantile, rad2deg, ravel, repeat_interleave, roll, rot90,
    row_stack, scatter, scatter_add, scatter_reduce, searchsorted, select, sgn, signbit, sinc,
    sinh, slogdet, sort, std_mean, subtract, swapdims, take, tan, tensor_split, tensordot, tile,
    topk, trace, trapezoid, tril, tril_indices, triu, triu_indices, unbind, unique,
    unique_consecutive, unravel_index, vander, var_mean, vdot, vsplit, vstack, xlogy)
from . import _tensor_methods  # noqa: F401,E402  (binds Tensor's methods: the one table)
from ._factories import logspace, normal  # noqa: F401
from ._dtype import finfo, iinfo  # noqa: F401
from ._device import device  # noqa: F401
from ._threads import get_num_threads, set_num_threads  # noqa: F401
from . import cuda, linalg  # noqa: F401
from .tensor import Size, Tensor  # noqa: F401
from .io import load, save  # noqa: F401
from . import nn  # noqa: F401,E402
# torch's top-level aliases of functional ops whose signatures match nn.functional's.
from .nn.functional import (  # noqa: F401,E402
    alpha_dropout, avg_pool1d, bilinear, celu, conv1d, conv2d, conv3d, conv_transpose1d,
    conv_transpose2d, cosine_similarity, dropout, feature_alpha_dropout, group_norm, layer_norm,
    max_pool1d, max_pool2d, max_pool3d, pairwise_distance, pixel_shuffle, pixel_unshuffle, prelu,
    selu, threshold)
from . import data, datasets, optim, utils  # noqa: F401,E402
from .training.mode_checks import ModeWarning, set_mode_checks  # noqa: F401,E402
from .training.mode_checks import register_mode_checks as _register_mode_checks  # noqa: E402
_mode_check_handles = _register_mode_checks()  # ModeWarning, on nn's and optim's global hooks
from .training.modes import evaluating, training_mode  # noqa: F401,E402

bool = _dtype.bool_
float = float32
double = float64
half = float16
long = int64
int = int32
short = int16

__version__ = "0.1.0"
