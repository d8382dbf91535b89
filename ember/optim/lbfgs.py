"""L-BFGS (Nocedal & Wright, Numerical Optimization, algorithms 7.4 and 3.5/3.6): a limited
history of curvature pairs approximates the inverse Hessian; optionally a strong-Wolfe line search.

Scalars (dot products, step lengths) are float32 0-d values where PyTorch keeps them as float32
tensors, so that a run follows PyTorch's decisions and values.
"""
import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor
from ._foreach import add_scaled_
from .optimizer import Optimizer, _check_lr_elements

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """L-BFGS over all parameters flattened into one vector; ``step`` needs a closure that
    recomputes the loss (and gradients) and may call it up to ``max_eval`` times."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        _check_lr_elements(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                    "tolerance_grad": tolerance_grad, "tolerance_change": tolerance_change,
                    "history_size": history_size, "line_search_fn": line_search_fn}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the flat parameter vector -------------------------------------------------------------
    def _flat_grad(self):
        parts = [np.zeros(param._data.size, dtype=param._data.dtype) if param._grad is None
                 else param._grad.to_dense()._data.reshape(-1) if param._grad.is_sparse
                 else param._grad._data.reshape(-1) for param in self._params]
        return np.concatenate(parts)

    def _move(self, step_length, direction):
        """params += step_length * direction (in place, bumping versions)."""
        offset = 0
        for param in self._params:
            size = param._data.size
            update = direction[offset:offset + size].reshape(param._data.shape)
            add_scaled_(param._data, update, step_length)  # add_(alpha=t): one rounding
            param._bump_version()
            offset += size

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return float(loss), self._flat_grad()

    def _evaluate_at(self, closure, start, step_length, direction):
        """Loss and flat gradient at start + step_length * direction; parameters restored."""
        self._move(step_length, direction)
        loss, flat_grad = self._evaluate(closure)
        for param, saved in zip(self._params, start):
            param._data[...] = saved
            param._bump_version()
        return loss, flat_grad

    # ---- one step ---------------------------------------------------------------------------------
    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss of the first closure call."""
        with no_grad():
            return self._step(closure)

    def _step(self, closure):
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return first_loss

        direction = _array(state.get("d"))
        step_length = _scalar(state.get("t"))
        directions = [_array(value) for value in state.get("old_dirs", [])]
        steps = [_array(value) for value in state.get("old_stps", [])]
        inverse_curvatures = [_scalar(value) for value in state.get("ro", [])]
        hessian_diagonal = _scalar(state.get("H_diag"))
        previous_grad = _array(state.get("prev_flat_grad"))
        previous_loss = state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                direction = -flat_grad
                directions, steps, inverse_curvatures = [], [], []
                hessian_diagonal = 1
            else:
                grad_change = flat_grad - previous_grad
                position_change = direction * flat_grad.dtype.type(step_length)
                curvature = np.dot(grad_change, position_change)
                if curvature > 1e-10:
                    if len(directions) == history_size:
                        directions.pop(0)
                        steps.pop(0)
                        inverse_curvatures.pop(0)
                    directions.append(grad_change)
                    steps.append(position_change)
                    inverse_curvatures.append(1.0 / curvature)
                    hessian_diagonal = curvature / np.dot(grad_change, grad_change)
                alphas = state.setdefault("al", [None] * history_size)
                direction = _two_loop(flat_grad, directions, steps, inverse_curvatures,
                                      hessian_diagonal, alphas)
            if previous_grad is None:
                previous_grad = flat_grad.copy()
            else:
                previous_grad[...] = flat_grad
            previous_loss = loss
            if state["n_iter"] == 1:
                step_length = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                step_length = lr
            directional_derivative = np.dot(flat_grad, direction)
            if directional_derivative > -tolerance_change:
                break

            extra_evaluations = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                start = [param._data.copy() for param in self._params]

                def objective(length):
                    return self._evaluate_at(closure, start, length, direction)

                loss, flat_grad, step_length, extra_evaluations = _strong_wolfe(
                    objective, step_length, direction, loss, flat_grad, directional_derivative,
                    max_evaluations=max_eval - evaluations)
                self._move(step_length, direction)
                converged = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._move(step_length, direction)
                converged = False
                if iteration != max_iter:
                    loss, flat_grad = self._evaluate(closure)
                    converged = np.abs(flat_grad).max() <= tolerance_grad
                    extra_evaluations = 1
            evaluations += extra_evaluations
            state["func_evals"] += extra_evaluations

            if iteration == max_iter or evaluations >= max_eval or converged:
                break
            if np.abs(direction * flat_grad.dtype.type(step_length)).max() <= tolerance_change:
                break
            if abs(loss - previous_loss) < tolerance_change:
                break

        state["d"] = _tensor(direction)
        state["t"] = step_length
        state["old_dirs"] = [_tensor(value) for value in directions]
        state["old_stps"] = [_tensor(value) for value in steps]
        state["ro"] = list(inverse_curvatures)
        state["H_diag"] = hessian_diagonal
        state["prev_flat_grad"] = _tensor(previous_grad)
        state["prev_loss"] = previous_loss
        return first_loss


def _two_loop(flat_grad, directions, steps, inverse_curvatures, hessian_diagonal, alphas):
    """-H grad by the two-loop recursion over the stored (y, s) pairs (Nocedal & Wright 7.4);
    the first loop's coefficients are written into ``alphas`` (kept in the state)."""
    dtype = flat_grad.dtype.type
    result = -flat_grad
    # each update is PyTorch's add_(alpha=...): a fused multiply-add, one rounding
    for index in range(len(directions) - 1, -1, -1):
        alphas[index] = np.dot(steps[index], result) * inverse_curvatures[index]
        add_scaled_(result, directions[index], -dtype(alphas[index]))
    result = (result * hessian_diagonal).astype(flat_grad.dtype, copy=False)
    for index in range(len(directions)):
        beta = np.dot(directions[index], result) * inverse_curvatures[index]
        add_scaled_(result, steps[index], dtype(alphas[index] - beta))
    return result


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds``
    (the interval itself by default); its midpoint when the cubic has no real minimiser."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    discriminant = d1 ** 2 - g1 * g2
    if discriminant < 0:
        return (low + high) / 2.0
    d2 = np.sqrt(discriminant)
    if x1 <= x2:
        position = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        position = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(position, low), high)


def _strong_wolfe(objective, step_length, direction, loss, flat_grad, slope, c1=1e-4, c2=0.9,
                  tolerance_change=1e-9, max_evaluations=25):
    """A step length meeting the strong Wolfe conditions: bracketing then zoom (Nocedal & Wright
    algorithms 3.5 and 3.6, cubic interpolation). Returns (loss, grad, step, evaluations)."""
    direction_size = np.abs(direction).max()
    new_loss, new_grad = objective(step_length)
    evaluations = 1
    new_slope = np.dot(new_grad, direction)
    previous = (0, loss, flat_grad.copy(), slope)
    done = False
    searches = 0
    bracket = None
    while searches < max_evaluations:
        sufficient = new_loss <= loss + c1 * step_length * slope
        if not sufficient or (searches > 1 and new_loss >= previous[1]):
            bracket = [previous, (step_length, new_loss, new_grad.copy(), new_slope)]
            break
        if abs(new_slope) <= -c2 * slope:
            bracket = [(step_length, new_loss, new_grad, new_slope)]
            done = True
            break
        if new_slope >= 0:
            bracket = [previous, (step_length, new_loss, new_grad.copy(), new_slope)]
            break
        lower_bound = step_length + 0.01 * (step_length - previous[0])
        upper_bound = step_length * 10
        next_length = _cubic_minimum(previous[0], previous[1], previous[3], step_length,
                                     new_loss, new_slope, bounds=(lower_bound, upper_bound))
        previous = (step_length, new_loss, new_grad.copy(), new_slope)
        step_length = next_length
        new_loss, new_grad = objective(step_length)
        evaluations += 1
        new_slope = np.dot(new_grad, direction)
        searches += 1
    if searches == max_evaluations:
        bracket = [(0, loss, flat_grad, None), (step_length, new_loss, new_grad, None)]

    # Zoom: shrink the bracket [low, high] (by loss) until a point meets the conditions.
    points = [list(point) for point in bracket]
    low, high = (0, 1) if points[0][1] <= points[-1][1] else (1, 0)
    insufficient_progress = False
    while not done and searches < max_evaluations:
        left, right = points[0][0], points[1][0]
        if abs(right - left) * direction_size < tolerance_change:
            break
        step_length = _cubic_minimum(left, points[0][1], points[0][3], right, points[1][1],
                                     points[1][3])
        largest = max(left, right)
        smallest = min(left, right)
        margin = 0.1 * (largest - smallest)
        if min(largest - step_length, step_length - smallest) < margin:
            # Too close to an end: move a tenth of the bracket inside unless the previous
            # attempt was also close (then accept it once).
            if insufficient_progress or step_length >= largest or step_length <= smallest:
                if abs(step_length - largest) < abs(step_length - smallest):
                    step_length = largest - margin
                else:
                    step_length = smallest + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        new_loss, new_grad = objective(step_length)
        evaluations += 1
        new_slope = np.dot(new_grad, direction)
        searches += 1
        if new_loss > loss + c1 * step_length * slope or new_loss >= points[low][1]:
            points[high] = [step_length, new_loss, new_grad.copy(), new_slope]
            low, high = (0, 1) if points[0][1] <= points[1][1] else (1, 0)
        else:
            if abs(new_slope) <= -c2 * slope:
                done = True
            elif new_slope * (points[high][0] - points[low][0]) >= 0:
                points[high] = list(points[low])
            points[low] = [step_length, new_loss, new_grad.copy(), new_slope]
    step_length, new_loss, new_grad, _ = points[low]
    return new_loss, new_grad, step_length, evaluations


def _array(value):
    if value is None:
        return None
    return value._data.copy() if hasattr(value, "_data") else np.array(value)


def _scalar(value):
    if value is None or isinstance(value, (int, float)):
        return value
    array = value._data if hasattr(value, "_data") else np.asarray(value)
    return array.dtype.type(array)


def _tensor(array):
    return None if array is None else Tensor._wrap(np.array(array))
