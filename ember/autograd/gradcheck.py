"""``gradcheck`` and ``gradgradcheck``: compare backward's gradients (and the gradients of the
gradients) with float64 central finite differences.

Small problems get the full Jacobian (every input element perturbed, every output element
back-propagated); large ones are checked along a few random directions, comparing the numerical
directional derivative u . (f(x + eps v) - f(x - eps v)) / (2 eps) with the analytical u^T J v.
"""
import warnings

import numpy as np

from .._random import uniform
from ..tensor import Tensor
from .engine import grad as _autograd_grad
from .grad_mode import enable_grad


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when the analytical and numerical gradients disagree."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              full_jacobian_limit=256, directions=3, seed=0, **torch_options):
    """Check ``fn``'s gradients for the inputs that require grad; True when they match.

    ``full_jacobian_limit`` bounds the total number of input (and output) elements for which the
    full Jacobian is built; beyond it ``directions`` random directions are checked instead.
    ``check_forward_ad=True`` also checks the forward-mode derivatives (J v through
    ``forward_ad``'s dual tensors), ``check_backward_ad=False`` skips the reverse-mode check, as
    in PyTorch; its other keyword options (``nondet_tol``, ``fast_mode``, ...) are accepted.
    """
    _check_options(torch_options, _GRADCHECK_OPTIONS, "gradcheck")
    check_forward = torch_options.get("check_forward_ad", False)
    check_backward = torch_options.get("check_backward_ad", True)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [index for index, value in enumerate(inputs)
               if isinstance(value, Tensor) and value._requires_grad]
    if not checked:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    for index in checked:
        if inputs[index]._data.dtype not in (np.float64, np.complex128):
            warnings.warn(f"Input #{index} requires gradient and is not a double precision "
                          f"floating point or complex. This check will likely fail if all the "
                          f"inputs are not of double precision floating point or complex. ",
                          UserWarning, stacklevel=2)

    differentiable = _differentiable(_call(fn, inputs))
    output_numel = sum(output._data.size for output in differentiable)
    input_numel = sum(inputs[index]._data.size for index in checked)
    if input_numel == 0 or output_numel == 0:
        return True
    full = input_numel <= full_jacobian_limit and output_numel <= full_jacobian_limit
    failure = None
    if check_backward:
        if full:
            failure = _check_full(fn, inputs, checked, eps, atol, rtol)
        else:
            failure = _check_directions(fn, inputs, checked, eps, atol, rtol, directions, seed)
    if failure is None and check_forward:
        failure = _check_forward(fn, inputs, checked, eps, atol, rtol,
                                 None if full else directions, seed)
    if failure is None:
        return True
    if raise_exception:
        raise GradcheckError(failure)
    return False


def _random_cotangent(output):
    """U(-1, 1) like ``output``, requiring grad, drawn from the default generator as PyTorch's
    gradgradcheck draws it (a complex one through its real view): later draws stay PyTorch's."""
    data = output._data
    if data.dtype.kind == "c":
        parts_dtype = np.empty(0, data.dtype).real.dtype
        parts = uniform(None, data.shape + (2,), parts_dtype, -1.0, 1.0)
        values = np.ascontiguousarray(parts).view(data.dtype).reshape(data.shape)
    else:
        values = uniform(None, data.shape, data.dtype, -1.0, 1.0)
    return Tensor._wrap(np.asarray(values)).requires_grad_(True)


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, full_jacobian_limit=256, directions=3, seed=0,
                  **torch_options):
    """Check the second derivatives of ``fn``: gradcheck of the function that maps the inputs and
    ``grad_outputs`` to the gradients (computed with create_graph). Without ``grad_outputs``,
    random ones in [-1, 1) that require grad are drawn from the default generator (as PyTorch
    does); ``seed`` is that of the directions of large checks."""
    _check_options(torch_options, _GRADGRADCHECK_OPTIONS, "gradgradcheck")
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [index for index, value in enumerate(inputs)
               if isinstance(value, Tensor) and value._requires_grad]
    if grad_outputs is None:
        # drawn for complex outputs too, as PyTorch, though only the real ones are checked
        grad_outputs = tuple([cotangent for cotangent in
                              [_random_cotangent(output) for output in _call(fn, inputs)
                               if output._data.dtype.kind in "fc"]
                              if cotangent._data.dtype.kind == "f"])
    else:
        grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else \
            tuple(grad_outputs)
    count = len(grad_outputs)

    def gradients(*arguments):
        primal = list(arguments[:len(arguments) - count])
        cotangents = arguments[len(arguments) - count:]
        outputs = _differentiable(_call(fn, primal))
        with enable_grad():
            grads = _autograd_grad(outputs, [primal[index] for index in checked],
                                   grad_outputs=list(cotangents), create_graph=True,
                                   allow_unused=True)
        return tuple(grad for grad in grads if grad is not None)

    return gradcheck(gradients, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, full_jacobian_limit=full_jacobian_limit,
                     directions=directions, seed=seed)


# PyTorch's keyword options that ember's checks accept and need not act on.
_GRADCHECK_OPTIONS = {"nondet_tol", "check_undefined_grad", "check_grad_dtypes",
                      "check_batched_grad", "check_batched_forward_grad", "check_forward_ad",
                      "check_backward_ad", "fast_mode", "masked"}
_GRADGRADCHECK_OPTIONS = {"gen_non_contig_grad_outputs", "nondet_tol", "check_undefined_grad",
                          "check_grad_dtypes", "check_batched_grad", "check_fwd_over_rev",
                          "check_rev_over_rev", "fast_mode", "masked"}


def _check_options(options, known, name):
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"{name}() got an unexpected keyword argument {unknown[0]!r}")


def _call(fn, inputs):
    """fn's outputs as a tuple of Tensors."""
    with enable_grad():
        result = fn(*inputs)
    if isinstance(result, Tensor):
        return (result,)
    if isinstance(result, (tuple, list)) and all(isinstance(item, Tensor) for item in result):
        return tuple(result)
    raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got "
                    f"{type(result).__name__}")


def _differentiable(outputs):
    return [output for output in outputs if output._data.dtype.kind == "f"]


def _float_outputs(fn, inputs):
    """fn's floating outputs as float64 arrays. Grad mode stays on, as in PyTorch's check: a
    function may differentiate inside (a gradient penalty calls autograd.grad on its input)."""
    return [np.asarray(output._data, dtype=np.float64) for output in _call(fn, inputs)
            if output._data.dtype.kind == "f"]


def _with_replaced(inputs, index, array):
    """The inputs with one replaced by a perturbed copy that requires grad as the original."""
    replaced = list(inputs)
    replaced[index] = Tensor._wrap(array, inputs[index]._requires_grad)
    return replaced


def _analytical_vjp(outputs, inputs, checked, output_weights):
    """sum_k weights_k . output_k back-propagated through the retained graph of ``outputs``:
    one float64 array per checked input (zeros where the input is unused)."""
    roots = []
    root_grads = []
    for output, weight in zip(outputs, output_weights):
        if output._requires_grad:
            roots.append(output)
            root_grads.append(Tensor._wrap(weight.astype(output._data.dtype)))
    targets = [inputs[index] for index in checked]
    if not roots:
        return [np.zeros(target._data.shape) for target in targets]
    grads = _autograd_grad(roots, targets, grad_outputs=root_grads, retain_graph=True,
                           allow_unused=True)
    results = []
    for target, value in zip(targets, grads):
        if value is None:
            results.append(np.zeros(target._data.shape))
            continue
        if value._data.shape != target._data.shape:
            raise GradcheckError(f"gradcheck: the gradient for an input of shape "
                                 f"{list(target._data.shape)} has shape "
                                 f"{list(value._data.shape)}")
        results.append(np.asarray(value._data, dtype=np.float64))
    return results


def _check_full(fn, inputs, checked, eps, atol, rtol):
    """Build both Jacobians element by element; describe the worst mismatch, or return None."""
    reference = _float_outputs(fn, inputs)
    output_sizes = [output.size for output in reference]
    output_total = sum(output_sizes)
    # numerical[i] has shape (numel of input i, total output numel)
    numerical = []
    for index in checked:
        base = inputs[index]._data
        columns = np.zeros((base.size, output_total))
        for flat in range(base.size):
            plus = base.copy()
            minus = base.copy()
            plus.reshape(-1)[flat] += eps
            minus.reshape(-1)[flat] -= eps
            high = _float_outputs(fn, _with_replaced(inputs, index, plus))
            low = _float_outputs(fn, _with_replaced(inputs, index, minus))
            columns[flat] = np.concatenate(
                [((h - l) / (2 * eps)).reshape(-1) for h, l in zip(high, low)])
        numerical.append(columns)
    analytical = [np.zeros_like(columns) for columns in numerical]
    outputs = _differentiable(_call(fn, inputs))
    for position in range(output_total):
        one_hot = np.zeros(output_total)
        one_hot[position] = 1.0
        weights = _split(one_hot, reference)
        for slot, value in enumerate(_analytical_vjp(outputs, inputs, checked, weights)):
            analytical[slot][:, position] = value.reshape(-1)
    # PyTorch's order and words: each output that requires grad against each checked input,
    # both numbered among their kind, both Jacobians shown (the numerical one in the output's
    # dtype, the analytical one in the input's); outputs that do not require grad go unchecked
    starts = np.cumsum([0] + output_sizes)
    differentiated = [(output, slice(start, start + output._data.size))
                      for output, start in zip(outputs, starts) if output._requires_grad]
    if not differentiated:
        if any(np.any(columns != 0) for columns in numerical):
            return "Numerical gradient for function expected to be zero"
        return None
    for output_number, (output, columns) in enumerate(differentiated):
        for slot, index in enumerate(checked):
            numeric = numerical[slot][:, columns]
            analytic = analytical[slot][:, columns]
            if _allclose(numeric, analytic, atol, rtol):
                continue
            numeric_shown = Tensor._wrap(numeric.astype(output._data.dtype))
            analytic_shown = Tensor._wrap(analytic.astype(inputs[index]._data.dtype))
            return (f"Jacobian mismatch for output {output_number} with respect to input "
                    f"{slot},\nnumerical:{numeric_shown!r}\nanalytical:{analytic_shown!r}\n")
    return None


def _check_directions(fn, inputs, checked, eps, atol, rtol, directions, seed):
    """Compare u^T J v numerically and analytically along random (u, v), one input at a time."""
    random = np.random.default_rng(seed)
    reference = _float_outputs(fn, inputs)
    outputs = _differentiable(_call(fn, inputs))
    for direction in range(directions):
        weights = [random.standard_normal(output.shape) for output in reference]
        analytical = _analytical_vjp(outputs, inputs, checked, weights)
        for slot, index in enumerate(checked):
            base = inputs[index]._data
            if base.size == 0:
                continue
            tangent = random.standard_normal(base.shape)
            tangent /= np.linalg.norm(tangent)
            high = _float_outputs(fn, _with_replaced(inputs, index, base + eps * tangent))
            low = _float_outputs(fn, _with_replaced(inputs, index, base - eps * tangent))
            numeric_value = float(sum(np.sum(weight * (h - l)) for weight, h, l
                                      in zip(weights, high, low)) / (2 * eps))
            analytic_value = float(np.sum(analytical[slot] * tangent))
            if not abs(numeric_value - analytic_value) <= atol + rtol * abs(numeric_value):
                return (f"directional derivative mismatch with respect to input {index} "
                        f"(random direction {direction}): numerical {numeric_value!r} vs "
                        f"analytical {analytic_value!r} (allowed |difference| <= atol + rtol * "
                        f"|numerical| with atol={atol}, rtol={rtol}).")
    return None


def _check_forward(fn, inputs, checked, eps, atol, rtol, directions, seed):
    """Compare J v through forward AD with central differences, v each element of each checked
    input in turn (``directions`` None) or that many random unit directions."""
    from . import forward_ad  # forward AD is built on autograd.functional, above the checks
    random = np.random.default_rng(seed)
    for index in checked:
        base = inputs[index]._data
        if directions is None:
            tangents = [np.eye(1, base.size, flat).reshape(base.shape) for flat in
                        range(base.size)]
        else:
            tangents = [vector / np.linalg.norm(vector) for vector in
                        (random.standard_normal(base.shape) for _ in range(directions))]
        for number, tangent in enumerate(tangents):
            high = _float_outputs(fn, _with_replaced(inputs, index, base + eps * tangent))
            low = _float_outputs(fn, _with_replaced(inputs, index, base - eps * tangent))
            with forward_ad.dual_level():
                dual_inputs = list(inputs)
                dual_inputs[index] = forward_ad.make_dual(
                    inputs[index], Tensor._wrap(tangent.astype(base.dtype)))
                outputs = [output for output in _call(fn, dual_inputs)
                           if output._data.dtype.kind == "f"]
                analytical = []
                for output in outputs:
                    value = forward_ad.unpack_dual(output).tangent
                    analytical.append(np.zeros(output._data.shape) if value is None else
                                      np.asarray(value._data, dtype=np.float64))
            for output_number, (h, l, value) in enumerate(zip(high, low, analytical)):
                numeric = (h - l) / (2 * eps)
                excess = np.abs(numeric - value) - (atol + rtol * np.abs(numeric))
                if excess.size and excess.max() > 0:
                    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
                    if directions is None:
                        element = np.unravel_index(number, base.shape)
                        where = f"input element {tuple(int(i) for i in element)}"
                    else:
                        where = f"random direction {number}"
                    return (f"forward-mode Jacobian mismatch for output {output_number} with "
                            f"respect to input {index}: {where}, output element "
                            f"{tuple(int(i) for i in worst)}: numerical {numeric[worst]!r} vs "
                            f"analytical {value[worst]!r} (allowed |difference| <= atol + rtol "
                            f"* |numerical| with atol={atol}, rtol={rtol}).")
    return None


def _split(flat, like):
    """Cut a flat vector into arrays shaped like ``like``."""
    pieces = []
    start = 0
    for array in like:
        pieces.append(flat[start:start + array.size].reshape(array.shape))
        start += array.size
    return pieces


def _allclose(numerical, analytical, atol, rtol):
    """|analytical - numerical| <= atol + rtol * |numerical| everywhere; NaN in either Jacobian
    counts as a mismatch unless both are NaN at that element."""
    excess = np.abs(numerical - analytical) - (atol + rtol * np.abs(numerical))
    both_nan = np.isnan(numerical) & np.isnan(analytical)
    excess = np.where(np.isnan(excess) & ~both_nan, np.inf, excess)
    excess = np.where(both_nan, -np.inf, excess)
    return not np.any(excess > 0)
