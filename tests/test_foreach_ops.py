"""torch._foreach_*: values, in-place effects, autograd and errors against PyTorch (what custom
optimizers and EMA updates call)."""
import numpy as np
import pytest

import ember

SHAPES = [(2, 3), (4,), ()]


def _tensors(library, seed=0, positive=False):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape) for shape in SHAPES]
    if positive:
        arrays = [np.abs(array) + 0.5 for array in arrays]
    return [library.tensor(array, dtype=library.float32) for array in arrays]


CALLS = {
    "add_scalar": lambda L, a, b: L._foreach_add(a, 1.5),
    "add_scalars": lambda L, a, b: L._foreach_add(a, [1.0, -2.0, 0.5]),
    "add_tensors_alpha": lambda L, a, b: L._foreach_add(a, b, alpha=-0.25),
    "add_one_tensor": lambda L, a, b: L._foreach_add(a, L.tensor(2.0)),
    "sub": lambda L, a, b: L._foreach_sub(a, b, alpha=3),
    "mul": lambda L, a, b: L._foreach_mul(a, b),
    "div_scalar": lambda L, a, b: L._foreach_div(a, 3.0),
    "maximum": lambda L, a, b: L._foreach_maximum(a, b),
    "clamp_min": lambda L, a, b: L._foreach_clamp_min(a, 0.1),
    "pow": lambda L, a, b: L._foreach_pow(b, 2.5),
    "pow_number_base": lambda L, a, b: L._foreach_pow(2.0, a),
    "addcmul": lambda L, a, b: L._foreach_addcmul(a, b, a, value=0.5),
    "addcdiv_scalars": lambda L, a, b: L._foreach_addcdiv(a, a, b, [1.0, 2.0, 3.0]),
    "lerp": lambda L, a, b: L._foreach_lerp(a, b, 0.3),
    "norm": lambda L, a, b: L._foreach_norm(a),
    "norm_inf": lambda L, a, b: L._foreach_norm(a, float("inf")),
    "max": lambda L, a, b: L._foreach_max(a),
    "sqrt": lambda L, a, b: L._foreach_sqrt(b),
    "exp": lambda L, a, b: L._foreach_exp(a),
    "neg": lambda L, a, b: L._foreach_neg(a),
    "sign": lambda L, a, b: L._foreach_sign(a),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_out_of_place_matches_torch(torch, name):
    results = []
    for library in (ember, torch):
        out = CALLS[name](library, _tensors(library), _tensors(library, 1, positive=True))
        assert isinstance(out, tuple)
        results.append([value.numpy() for value in out])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["add_", "sub_", "mul_", "div_", "maximum_", "clamp_max_",
                                  "pow_", "lerp_", "addcmul_", "addcdiv_", "zero_", "copy_",
                                  "sqrt_", "neg_", "exp_"])
def test_in_place_matches_torch_and_returns_the_list(torch, name):
    results = []
    for library in (ember, torch):
        tensors = _tensors(library, positive=True)
        others = _tensors(library, 1, positive=True)
        function = getattr(library, "_foreach_" + name)
        if name in ("zero_", "sqrt_", "neg_", "exp_"):
            returned = function(tensors)
        elif name == "lerp_":
            returned = function(tensors, others, 0.25)
        elif name in ("addcmul_", "addcdiv_"):
            returned = function(tensors, others, tensors, 0.5)
        elif name == "copy_":
            returned = function(tensors, others)
        else:
            returned = function(tensors, others)
        assert returned is tensors and all(tensor._version > 0 for tensor in tensors)
        results.append([tensor.numpy() for tensor in tensors])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_ema_update_and_gradients_without_torch():
    ema = _tensors(ember)
    params = _tensors(ember, 1)
    expected = [0.9 * e.numpy() + 0.1 * p.numpy() for e, p in zip(ema, params)]
    ember._foreach_mul_(ema, 0.9)
    ember._foreach_add_(ema, params, alpha=0.1)
    for tensor, value in zip(ema, expected):
        np.testing.assert_allclose(tensor.numpy(), value, rtol=1e-6)
    leaves = [tensor.requires_grad_() for tensor in _tensors(ember, 2)]
    total = sum(out.sum() for out in ember._foreach_mul(leaves, leaves))
    total.backward()
    for leaf in leaves:
        np.testing.assert_allclose(leaf.grad.numpy(), 2 * leaf.detach().numpy(), rtol=1e-6)


def test_errors_match_torch(torch):
    for library in (ember, torch):
        a = _tensors(library)
        with pytest.raises(RuntimeError, match="Tensor lists must have the same number of "
                                               "tensors, got 3 and 1"):
            library._foreach_add(a, [a[0]])
        with pytest.raises(RuntimeError, match="Tensor list must have at least one tensor"):
            library._foreach_mul([], 2.0)
        with pytest.raises(RuntimeError, match="same number of elements as scalar list"):
            library._foreach_add(a, [1.0])
        with pytest.raises(TypeError):
            library._foreach_add(a[0], 1)
        with pytest.raises(AssertionError, match="shape is wrong"):
            library._assert(a[0].dim() == 5, "shape is wrong")
        library._assert(a[0].dim() == 2, "unused")
