"""Resampling for F.interpolate: nearest, nearest-exact and (bi/tri)linear, one axis at a time.

Every spatial axis is resampled independently (all these modes are separable): nearest modes
gather an index per output position; linear modes multiply by an (out, in) interpolation matrix
with two weights per row. Both are maps of padding's GatherAxes op (whose gradient is the
transposed gather or matrix product). Source positions follow PyTorch's rules, computed in the
input's precision as PyTorch does. GridSample samples at arbitrary points with bilinear, nearest
or bicubic weights.
"""
import functools
import itertools
import math

import numpy as np

from ... import _jit
from ...autograd.function import (Op, forward_ad_unsupported, forward_mode_active,
                                  linked_to_input)
from ...ops.linalg import matmul_arrays
from ...ops.reduce import linspace_array
from .pooling import GatherSpatial, ScatterSpatial, _gather_spatial, _scatter_spatial


def _reflect(source, twice_low, twice_high):
    """Reflect coordinates into [twice_low / 2, twice_high / 2]; also d(result)/d(source)."""
    if twice_low == twice_high:
        return np.zeros_like(source), np.zeros_like(source)
    low = source.dtype.type(twice_low / 2)
    span = source.dtype.type((twice_high - twice_low) / 2)
    shifted = source - low
    sign = np.where(shifted < 0, -1, 1).astype(source.dtype)
    shifted = np.abs(shifted)
    extra = np.fmod(shifted, span)
    flips = np.floor(shifted / span).astype(np.int64)
    even = flips % 2 == 0
    reflected = np.where(even, extra + low, span - extra + low)
    return reflected.astype(source.dtype), np.where(even, sign, -sign)


def _clip(source, size):
    """Clip to [0, size - 1]; the derivative is zero at and beyond the edges (PyTorch)."""
    inside = (source > 0) & (source < size - 1)
    return np.clip(source, 0, size - 1).astype(source.dtype), inside.astype(source.dtype)


def _fused_unnormalize(coordinate, size):
    """(x + 1) * size / 2 - 1/2 rounded once after the product, as the fused multiply-add of
    PyTorch's vectorized 2-D CPU sampler: it decides the cell of a point on a pixel centre (an
    identity affine grid's), hence the gradient there."""
    dtype = coordinate.dtype
    shifted = coordinate + dtype.type(1)
    # the product is exact in the wider type (80-bit long double for float64 on x86)
    wide = np.float64 if dtype.itemsize < 8 else np.longdouble
    return (shifted.astype(wide) * wide(size / 2) - wide(0.5)).astype(dtype)


def _source_coordinates(coordinate, size, padding_mode, align_corners, fused=False):
    """Pixel coordinate for normalised ``coordinate`` in [-1, 1], and its derivative; ``fused``
    for 2-D sampling (PyTorch's vectorized kernel rounds as one multiply-add)."""
    dtype = coordinate.dtype
    if align_corners:
        scale = dtype.type((size - 1) / 2)
        source = (coordinate + dtype.type(1)) * scale
    elif fused:
        scale = dtype.type(size / 2)
        source = _fused_unnormalize(coordinate, size)
    else:
        scale = dtype.type(size / 2)
        source = ((coordinate + dtype.type(1)) * dtype.type(size) - dtype.type(1)) / dtype.type(2)
    derivative = np.full_like(source, scale)
    source, factor = _padded_coordinates(source, size, padding_mode, align_corners)
    if factor is not None:
        derivative *= factor
    return source, derivative


def _padded_coordinates(source, size, padding_mode, align_corners):
    """``source`` moved inside the image by ``padding_mode`` ('zeros' leaves it where it is),
    and d(result)/d(source) (None where it is one everywhere)."""
    if padding_mode == "border":
        return _clip(source, size)
    if padding_mode == "reflection":
        if align_corners:
            source, flip = _reflect(source, 0, 2 * (size - 1))
        else:
            source, flip = _reflect(source, -1, 2 * size - 1)
        source, inside = _clip(source, size)
        return source, flip * inside
    return source, None


def _cubic_coefficients(t):
    """PyTorch's four cubic convolution weights (A = -0.75) of the taps at -1, 0, 1, 2 for
    fraction ``t``, and their derivatives in ``t``; ``t`` an array or a Tensor (the constants
    are Python floats, so float32 stays float32 either way)."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    def near_slope(x):
        return (3 * (a + 2) * x - 2 * (a + 3)) * x

    def far_slope(x):
        return (3 * a * x - 10 * a) * x + 8 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    slopes = (far_slope(t + 1), near_slope(t), -near_slope(1 - t), -far_slope(2 - t))
    return weights, slopes


def _cubic_taps(sources, arrays, sizes, padding_mode, align_corners):
    """The 4x4 taps of bicubic sampling (as ``_taps``, 2-D only): the weights are products of
    cubic coefficients of the fractions; ``padding_mode`` moves each tap, not the source point
    (as PyTorch does), so the grid's derivative is the unpadded one."""
    height, width = sizes
    left = np.floor(arrays[0])
    top = np.floor(arrays[1])
    weights_x, slopes_x = _cubic_coefficients(sources[0] - left)
    weights_y, slopes_y = _cubic_coefficients(sources[1] - top)
    columns = [_padded_coordinates(left + offset, width, padding_mode, align_corners)[0]
               .astype(np.int64) for offset in (-1, 0, 1, 2)]
    rows = [_padded_coordinates(top + offset, height, padding_mode, align_corners)[0]
            .astype(np.int64) for offset in (-1, 0, 1, 2)]
    taps = []
    for j, row in enumerate(rows):
        for i, column in enumerate(columns):
            inside = (row >= 0) & (row < height) & (column >= 0) & (column < width)
            flat = np.where(inside, row * width + column, 0)
            taps.append((flat, inside.astype(arrays[0].dtype), weights_x[i] * weights_y[j],
                         (slopes_x[i] * weights_y[j], weights_x[i] * slopes_y[j])))
    return taps


def _taps(sources, arrays, sizes, mode, padding_mode, align_corners):
    """(flat index, in-bounds mask, weight, (d weight/dx, d weight/dy[, d weight/dz])) for each
    sampled tap, z outermost and x innermost (the weights None for nearest sampling, where they
    are one and constant). ``sources`` and ``arrays`` are in the grid's (x, y[, z]) order,
    ``sizes`` in the input's ([D,] H, W). The indices and masks come from ``arrays`` (the
    coordinates' values), the weights from ``sources`` (the same values, or Tensors that carry
    the grid's history)."""
    if mode == "bicubic":
        return _cubic_taps(sources, arrays, sizes, padding_mode, align_corners)
    axis_sizes = sizes[::-1]  # x first, as the grid
    if mode == "nearest":
        # one tap per axis, weight one, independent of the grid
        choices = [[(np.rint(array).astype(np.int64), None, None)] for array in arrays]
    else:
        choices = []
        for source, array in zip(sources, arrays):
            low = np.floor(array)
            high_weight = source - low
            low_index = low.astype(np.int64)
            choices.append([(low_index, 1 - high_weight, -1), (low_index + 1, high_weight, 1)])
    taps = []
    for combination in itertools.product(*choices[::-1]):
        corner = combination[::-1]  # back to x, y(, z)
        inside = np.ones(corner[0][0].shape, dtype=bool)
        flat = np.zeros(corner[0][0].shape, dtype=np.int64)
        for (index, _, _), size in zip(corner[::-1], sizes):
            inside &= (index >= 0) & (index < size)
            flat = flat * size + index
        flat = np.where(inside, flat, 0)
        if mode == "nearest":
            taps.append((flat, inside.astype(arrays[0].dtype), None, None))
            continue
        weights = [weight for _, weight, _ in corner]
        weight = weights[0]
        for other in weights[1:]:
            weight = weight * other
        slopes = []
        for axis, (_, _, sign) in enumerate(corner):
            others = [weights[k] for k in range(len(corner)) if k != axis]
            slope = -others[0] if sign < 0 else others[0]
            for other in others[1:]:
                slope = slope * other
            slopes.append(slope)
        taps.append((flat, inside.astype(arrays[0].dtype), weight, tuple(slopes)))
    return taps


def _gather(xp, values, indices):
    return _gather_spatial(values, indices) if xp is np else GatherSpatial.apply(values, indices)


def _scatter(xp, values, indices, shape):
    if xp is np:
        return _scatter_spatial(values, indices, shape)
    return ScatterSpatial.apply(values, indices, shape)


def _base_coordinates(steps, align_corners, dtype):
    """affine_grid's coordinates along one axis, rounded as PyTorch's (its linspace, then
    times steps - 1 and divided by steps as two float operations)."""
    if steps <= 1:
        return np.zeros(max(steps, 0), dtype=dtype)
    values = linspace_array(-1, 1, steps, dtype)
    if not align_corners:
        values = values * dtype.type(steps - 1) / dtype.type(steps)
    return values


def _affine_base(sizes, align_corners, dtype):
    """(1, prod(sizes), len(sizes) + 1): (x, y[, z], 1) at each output position, x running
    along the last axis."""
    spatial = len(sizes)
    base = np.empty(tuple(sizes) + (spatial + 1,), dtype=dtype)
    for axis, steps in enumerate(sizes[::-1]):
        shape = [1] * spatial
        shape[spatial - 1 - axis] = steps
        base[..., axis] = _base_coordinates(steps, align_corners, dtype).reshape(shape)
    base[..., spatial] = 1
    return base.reshape(1, math.prod(sizes), spatial + 1)


class AffineGridGenerator(Op):
    """affine_grid: the base coordinates times theta's transpose, (N, *sizes, 2 or 3). Its own
    op, as PyTorch's, so that it saves nothing (the base is rebuilt from the sizes): a grid may
    be backpropagated through more than once. Linear in theta; the backward is written against
    ``ctx.xp`` (create_graph)."""

    _next_order = (0,)  # PyTorch lists theta, not the size
    differentiable_backward = True

    @staticmethod
    def forward(ctx, theta, sizes, align_corners):
        ctx.options = (tuple(sizes), align_corners, theta.dtype)
        grid = np.asarray(matmul_arrays(_affine_base(sizes, align_corners, theta.dtype),
                                        theta.transpose(0, 2, 1)))
        return grid.reshape((theta.shape[0],) + tuple(sizes) + (len(sizes),))

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        sizes, align_corners, dtype = ctx.options
        base = _affine_base(sizes, align_corners, dtype)
        flat = xp.reshape(grad, (grad.shape[0], math.prod(sizes), len(sizes)))
        if xp is np:
            return np.asarray(matmul_arrays(flat.transpose(0, 2, 1), base))
        return xp.matmul(xp.permute_dims(flat, (0, 2, 1)), xp.asarray(base))


@_jit.kernel
def _sample_taps(values, flat, scale, out):
    # out[n, c, p] = sum over taps t, in order, of values[n, c, flat[n, p, t]] * scale[n, p, t]
    batch, points, taps = flat.shape
    for n in range(batch):
        for c in range(values.shape[1]):
            source = values[n, c]
            for p in range(points):
                total = out.dtype.type(0)
                for t in range(taps):
                    total += source[flat[n, p, t]] * scale[n, p, t]
                out[n, c, p] = total


@_jit.kernel
def _scatter_taps(grad, flat, scale, grad_input):
    # grad_input[n, c, flat[t, n, p]] += grad[n, c, p] * scale[t, n, p], tap by tap
    taps, batch, points = flat.shape
    for t in range(taps):
        for n in range(batch):
            for c in range(grad.shape[1]):
                target = grad_input[n, c]
                for p in range(points):
                    target[flat[t, n, p]] += grad[n, c, p] * scale[t, n, p]


@_jit.kernel
def _tap_products(grad, values, flat, mask, out):
    # out[t, n, p] = sum over channels c, in order, of grad[n, c, p] (values[n, c, flat] mask)
    taps, batch, points = flat.shape
    for t in range(taps):
        for n in range(batch):
            for p in range(points):
                total = out.dtype.type(0)
                for c in range(grad.shape[1]):
                    total += grad[n, c, p] * (values[n, c, flat[t, n, p]] * mask[t, n, p])
                out[t, n, p] = total


_SAMPLED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _stacked_taps(taps, batch, points):
    """The taps' flat indices and in-bounds masks as (taps, N, points) arrays."""
    flat = np.stack([tap[0] for tap in taps]).reshape(len(taps), batch, points)
    mask = np.stack([tap[1] for tap in taps]).reshape(len(taps), batch, points)
    return flat, mask


class GridSample(Op):
    """Sample (N, C, [D,] H, W) at the normalised (x, y[, z]) positions of a (N, *out, 2 or 3)
    grid. The backward gathers and scatters at the sampled taps, with weights that are
    functions of the grid (piecewise polynomial in it), written against ``ctx.xp``:
    differentiable (create_graph)."""

    _next_order = (0, 1)  # input and grid, not the options
    differentiable_backward = True
    backward_is_one_node = True

    def _backward_with_history(self, grad_outputs):
        if forward_mode_active():  # PyTorch's grid sampler has no forward mode
            error_type, message = forward_ad_unsupported(f"grid_sampler_{self.spatial_dims}d")
            raise error_type(message)
        return Op._backward_with_history(self, grad_outputs)

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        batch, channels, *sizes = x.shape
        flat_input = x.reshape(batch, channels, math.prod(sizes))
        source_padding = "zeros" if mode == "bicubic" else padding_mode
        fused = len(sizes) == 2
        sources = [_source_coordinates(grid[..., axis], size, source_padding, align_corners,
                                       fused)[0]
                   for axis, size in enumerate(sizes[::-1])]
        out = np.zeros((batch, channels) + grid.shape[1:-1], dtype=x.dtype)
        points = (batch, 1, math.prod(grid.shape[1:-1]))  # explicit: the batch may be empty
        taps = _taps(sources, sources, sizes, mode, padding_mode, align_corners)
        kernel = _sample_taps.compiled() if x.dtype in _SAMPLED_DTYPES and out.size else None
        if kernel is not None:
            # one pass, the taps summed per output in the NumPy path's order: a take_along_axis
            # per tap indexes by broadcast (N, 1, P) arrays (~200 us a tap at 8x16x24x24)
            scale = np.stack([tap[1] if tap[2] is None else tap[2] * tap[1] for tap in taps],
                             axis=-1)
            flat = np.stack([tap[0] for tap in taps], axis=-1)
            kernel(np.ascontiguousarray(flat_input), flat.reshape(batch, points[2], len(taps)),
                   scale.reshape(batch, points[2], len(taps)),
                   out.reshape(batch, channels, points[2]))
            taps = ()
        for flat, inside, weight, _ in taps:
            values = np.take_along_axis(flat_input, flat.reshape(points), axis=2)
            scale = (inside if weight is None else weight * inside).reshape(points)
            out += (values * scale).reshape(out.shape)
        ctx.save_for_backward(x, grid)
        ctx.options = (mode, padding_mode, align_corners)
        ctx.spatial_dims = len(sizes)
        return out

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        x, grid = ctx.saved_tensors
        mode, padding_mode, align_corners = ctx.options
        needs_input, needs_grid = ctx.needs_input_grad[:2]
        batch, channels, *sizes = x.shape
        grid_array = grid if xp is np else grid._data
        sources, arrays, derivatives = [], [], []
        source_padding = "zeros" if mode == "bicubic" else padding_mode
        for axis, size in enumerate(sizes[::-1]):
            source, derivative = _source_coordinates(grid_array[..., axis], size, source_padding,
                                                     align_corners, len(sizes) == 2)
            arrays.append(source)
            derivatives.append(derivative)
            if xp is not np:
                # The source position as a function of the grid: linear, slope ``derivative``.
                source = grid[..., axis] * derivative + (source - grid_array[..., axis]
                                                         * derivative)
            sources.append(source)
        points = math.prod(grid_array.shape[1:-1])
        flat_grad = xp.reshape(grad, (batch, channels, points))
        flat_input = xp.reshape(x, (batch, channels, math.prod(sizes)))
        input_shape = tuple(x.shape)
        grad_input = None
        grad_sources = [None] * len(sizes)
        taps = _taps(sources, arrays, sizes, mode, padding_mode, align_corners)
        if xp is np and x.dtype in _SAMPLED_DTYPES and grad.dtype == x.dtype and grad.size:
            compiled = _compiled_grid_sample_backward(
                taps, flat_grad, flat_input, input_shape, needs_input,
                needs_grid and mode != "nearest")
            if compiled is not None:
                grad_input, tap_products = compiled
                for (_, _, _, slopes), summed in zip(taps, tap_products):
                    for axis, slope in enumerate(slopes):
                        part = summed * slope.reshape(batch, points)
                        previous = grad_sources[axis]
                        grad_sources[axis] = part if previous is None else previous + part
                taps = ()
        for flat, inside, weight, slopes in taps:
            indices = np.broadcast_to(flat.reshape(batch, 1, points), flat_grad.shape)
            mask = inside.reshape(batch, 1, points)
            if needs_input:
                if weight is not None:
                    scaled = flat_grad * (xp.reshape(weight, (batch, 1, points)) * mask)
                else:
                    scaled = flat_grad * mask
                part = _scatter(xp, scaled, indices, input_shape)
                grad_input = part if grad_input is None else grad_input + part
            if needs_grid and mode != "nearest":
                summed = xp.sum(flat_grad * (_gather(xp, flat_input, indices) * mask), axis=1)
                for axis, slope in enumerate(slopes):
                    part = summed * xp.reshape(slope, (batch, points))
                    previous = grad_sources[axis]
                    grad_sources[axis] = part if previous is None else previous + part
        if mode == "nearest" and xp is not np and grad_input is not None and \
                ctx.next_edges[1] is not None:
            # PyTorch's backward is one node taking the grid: there the input gradient's
            # derivative in the grid is zeros (not None)
            grad_input = linked_to_input(grad_input, ctx.next_edges[1],
                                         (grid_array.shape, grid_array.dtype))
        grad_grid = None
        if needs_grid:
            if grad_sources[0] is None:  # nearest: the weights do not depend on the grid
                grad_grid = np.zeros(grid_array.shape, grid_array.dtype)
                grad_grid = grad_grid if xp is np else type(grid)._wrap(grad_grid)
            else:
                shape = grid_array.shape[:-1]
                grad_grid = xp.stack([xp.reshape(grad_source, shape) * derivative
                                      for grad_source, derivative in zip(grad_sources,
                                                                         derivatives)],
                                     axis=-1)
        return grad_input, grad_grid, None, None, None


def _compiled_grid_sample_backward(taps, flat_grad, flat_input, input_shape, needs_input,
                                   needs_taps):
    """GridSample's backward on arrays by the compiled kernels: (the input's gradient, or
    None; per tap the channel sums of grad * input at the tap (the grid's part before the
    slopes), or ()); None without numba. The input's gradient adds tap after tap where the
    NumPy path sums each tap's scatter, then the taps: the same terms, in another order."""
    scatter = _scatter_taps.compiled()
    products = _tap_products.compiled()
    if scatter is None or products is None:
        return None
    batch, channels, points = flat_grad.shape
    flat, mask = _stacked_taps(taps, batch, points)
    flat_grad = np.ascontiguousarray(flat_grad)
    grad_input = None
    if needs_input:
        scale = mask if taps[0][2] is None else np.stack([tap[2] for tap in taps]).reshape(
            mask.shape) * mask
        grad_input = np.zeros((batch, channels, math.prod(input_shape[2:])), flat_grad.dtype)
        scatter(flat_grad, flat, scale, grad_input)
        grad_input = grad_input.reshape(input_shape)
    tap_products = ()
    if needs_taps:
        tap_products = np.empty(flat.shape, flat_grad.dtype)
        products(flat_grad, np.ascontiguousarray(flat_input), flat, mask, tap_products)
    return grad_input, tap_products


def nearest_index(in_size, out_size, scale, exact, dtype):
    """floor(dst * s) (or floor((dst + 0.5) * s) for nearest-exact), s = 1/scale or in/out."""
    ratio = dtype.type(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
    positions = np.arange(out_size, dtype=dtype)
    if exact:
        positions = positions + dtype.type(0.5)
    return np.minimum(np.floor(positions * ratio).astype(np.int64), in_size - 1)


def _kept_read_only(build):
    """``build``'s matrices kept per arguments, read-only: a resampling rebuilds the same few
    matrices on every call otherwise (two of ~18 us for each bilinear upsampling)."""
    cached = functools.lru_cache(maxsize=256)(build)

    @functools.wraps(build)
    def matrix(in_size, out_size, scale, align_corners, dtype):
        result = cached(in_size, out_size, scale, align_corners, np.dtype(dtype))
        result.flags.writeable = False
        return result

    return matrix


@_kept_read_only
def linear_matrix(in_size, out_size, scale, align_corners, dtype):
    """The (out, in) matrix of two-tap linear interpolation weights for one axis."""
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        ratio = dtype.type(ratio)
        source = np.arange(out_size, dtype=dtype) * ratio
    else:
        ratio = dtype.type(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
        source = (np.arange(out_size, dtype=dtype) + dtype.type(0.5)) * ratio - dtype.type(0.5)
        source = np.maximum(source, dtype.type(0))
    lower = source.astype(np.int64)
    upper = lower + (lower < in_size - 1)
    upper_weight = np.clip(source - lower.astype(dtype), 0, 1).astype(dtype)
    lower_weight = (dtype.type(1) - upper_weight).astype(dtype)
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), lower_weight)
    np.add.at(matrix, (rows, upper), upper_weight)
    return matrix


# PyTorch's cubic convolution parameter (OpenCV's too); Keys' is -0.5.
_CUBIC_A = -0.75


@_kept_read_only
def cubic_matrix(in_size, out_size, scale, align_corners, dtype):
    """The (out, in) matrix of four-tap cubic convolution weights for one axis, as PyTorch's
    bicubic computes them (in the input's dtype): source positions not clamped, the four taps
    around each clamped to the edges, so an edge pixel gathers the weights of the taps beyond."""
    if align_corners:
        ratio = dtype.type((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
        source = np.arange(out_size, dtype=dtype) * ratio
    else:
        ratio = dtype.type(1.0 / scale if scale is not None and scale > 0 else in_size / out_size)
        source = (np.arange(out_size, dtype=dtype) + dtype.type(0.5)) * ratio - dtype.type(0.5)
    floor = np.floor(source)
    t = (source - floor).astype(dtype)
    a = dtype.type(_CUBIC_A)
    one = dtype.type(1)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + one

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    complement = one - t
    weights = (far(t + one), near(t), near(complement), far(complement + one))
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    first = floor.astype(np.int64) - 1
    for offset, weight in enumerate(weights):
        np.add.at(matrix, (rows, np.clip(first + offset, 0, in_size - 1)), weight.astype(dtype))
    return matrix


def antialias_matrix(in_size, out_size, scale, align_corners, cubic, dtype):
    """The (out, in) matrix of PyTorch's antialiased bilinear or bicubic resampling for one
    axis (PIL's filters: the triangle, or Keys' cubic with a = -0.5, widened by the downscale
    factor and normalised per output), computed in the input's dtype with PyTorch's mixed
    float/double steps, so the taps and weights are PyTorch's."""
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    ratio = dtype.type(ratio)
    interp_size = 4 if cubic else 2
    support = dtype.type(interp_size * 0.5 * float(ratio) if ratio >= 1 else interp_size * 0.5)
    taps = int(math.ceil(support)) * 2 + 1
    invscale = dtype.type(1) / ratio if ratio >= 1 else dtype.type(1)
    # center = scale * (i + 0.5) in double, stored in the dtype
    center = (float(ratio) * (np.arange(out_size) + 0.5)).astype(dtype)
    start = np.maximum(((center - support).astype(np.float64) + 0.5).astype(np.int64), 0)
    stop = np.minimum(((center + support).astype(np.float64) + 0.5).astype(np.int64), in_size)
    count = np.clip(stop - start, 0, taps)
    positions = np.arange(taps)[None, :] + start[:, None]
    distance = ((positions.astype(dtype) - center[:, None]).astype(np.float64) + 0.5) \
        * float(invscale)
    distance = np.abs(distance.astype(dtype))
    if cubic:
        a = dtype.type(-0.5)
        near = ((a + 2) * distance - (a + 3)) * distance * distance + dtype.type(1)
        far = ((a * distance - 5 * a) * distance + 8 * a) * distance - 4 * a
        weights = np.where(distance < 1, near, np.where(distance < 2, far, dtype.type(0)))
    else:
        weights = np.where(distance < 1, (1.0 - distance.astype(np.float64)).astype(dtype),
                           dtype.type(0))
    used = np.arange(taps)[None, :] < count[:, None]
    weights = np.where(used, weights, dtype.type(0)).astype(dtype)
    # the per-output total adds the taps in order, as PyTorch's loop does
    total = np.cumsum(weights, axis=1, dtype=dtype)[:, -1:]
    weights = np.where(total != 0, weights / np.where(total != 0, total, 1), weights)
    matrix = np.zeros((out_size, in_size), dtype=dtype)
    rows, columns = np.nonzero(used)
    matrix[rows, positions[rows, columns]] = weights[rows, columns]
    return matrix


# ---- uint8 images: PyTorch's fixed-point resampling (PIL's) -----------------------------------
def _uint8_rows(in_size, out_size, scale, align_corners, cubic, antialias):
    """(first tap, float64 weights) per output along one axis, as PyTorch's uint8 kernels
    compute them: PIL's filters widened by a downscale when antialiasing (Keys' cubic with
    a = -0.5 then, -0.75 without), normalised per output."""
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    else:
        ratio = 1.0 / scale if scale is not None and scale > 0 else in_size / out_size
    delta = 0.5 if align_corners and not antialias else 0.0
    half = 2.0 if cubic else 1.0
    widened = antialias and ratio >= 1.0
    support = half * ratio if widened else half
    invscale = 1.0 / ratio if widened else 1.0
    a = -0.5 if antialias else -0.75
    rows = []
    for index in range(out_size):
        center = ratio * (index + 0.5 - delta)
        first = max(int(center - support + 0.5 + delta), 0)
        count = min(int(center + support + 0.5 + delta), in_size) - first
        distance = np.abs((np.arange(count) + first - center + 0.5 - delta) * invscale)
        if cubic:
            weights = np.where(distance < 1, ((a + 2) * distance - (a + 3)) * distance ** 2 + 1,
                               np.where(distance < 2, (((distance - 5) * distance + 8) * distance
                                                       - 4) * a, 0.0))
        else:
            weights = np.where(distance < 1, 1 - distance, 0.0)
        total = weights.sum()
        rows.append((first, weights / total if total != 0 else weights))
    return rows


def _resample_uint8_axis(image, rows, axis, in_size):
    """One separable pass in PIL's fixed point: int16 weights with as many fraction bits as
    the largest weight allows, a rounding half added, the sum shifted back and clamped to
    uint8 (the next pass reads these rounded values, as PyTorch's does)."""
    largest = max([weights.max() for _, weights in rows if weights.size] + [0.0])
    bits = 0
    while bits < 15 and int(0.5 + largest * (1 << (bits + 1))) < (1 << 15):
        bits += 1
    matrix = np.zeros((len(rows), in_size), np.int64)
    for output, (first, weights) in enumerate(rows):
        scaled = weights * (1 << bits)
        matrix[output, first:first + weights.size] = np.trunc(
            np.where(scaled < 0, scaled - 0.5, scaled + 0.5))
    moved = np.moveaxis(image, axis, -1).astype(np.int64)
    total = moved @ matrix.T + (1 << (bits - 1) if bits else 0)
    out = np.clip(total >> bits, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(out, -1, axis))


def resample_uint8(image, output_size, scales, cubic, antialias, align_corners):
    """Bilinear or bicubic resizing of a uint8 (N, C, H, W) array as PyTorch's CPU kernels do:
    the width first, then the height, each only if its size changes."""
    out = image
    for axis in (3, 2):
        size = output_size[axis - 2]
        if size != image.shape[axis]:
            rows = _uint8_rows(image.shape[axis], size, scales[axis - 2], align_corners, cubic,
                               antialias)
            out = _resample_uint8_axis(out, rows, axis, image.shape[axis])
    return out if out is not image else image.copy()
