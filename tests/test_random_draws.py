"""torch.poisson and torch.binomial: draws with the right statistics and dtypes, PyTorch's errors,
and PyTorch's recording (poisson's gradient is zero, binomial has none)."""
import numpy as np
import pytest

import ember


def test_poisson_draws_have_the_rates_mean_and_variance_and_keep_dtype_and_shape():
    generator = ember.Generator().manual_seed(3)
    rates = ember.tensor([[0.5], [4.0], [20.0]]).expand(3, 20000)
    draws = ember.poisson(rates, generator=generator)
    assert draws.shape == (3, 20000) and draws.dtype == ember.float32
    values = draws.numpy()
    assert np.all(values == np.round(values)) and values.min() >= 0
    np.testing.assert_allclose(values.mean(axis=1), [0.5, 4.0, 20.0], rtol=0.03)
    np.testing.assert_allclose(values.var(axis=1), [0.5, 4.0, 20.0], rtol=0.06)
    assert ember.poisson(ember.zeros(4, dtype=ember.float64)).dtype == ember.float64
    assert ember.poisson(ember.zeros(4)).sum().item() == 0


def test_poisson_is_repeatable_from_a_seeded_generator():
    first = ember.poisson(ember.full((50,), 3.0), generator=ember.Generator().manual_seed(7))
    second = ember.poisson(ember.full((50,), 3.0), generator=ember.Generator().manual_seed(7))
    assert ember.equal(first, second)


def test_poisson_gradient_is_zero_as_in_pytorch(torch):
    rates = ember.tensor([1.0, 2.5], requires_grad=True)
    draws = ember.poisson(rates)
    torch_draws = torch.poisson(torch.tensor([1.0, 2.5], requires_grad=True))
    assert draws.requires_grad and repr(draws.grad_fn).startswith("<PoissonBackward0")
    assert repr(torch_draws.grad_fn).startswith("<PoissonBackward0")
    (draws * 3).sum().backward()
    assert rates.grad.tolist() == [0.0, 0.0]
    with ember.no_grad():
        assert not ember.poisson(rates).requires_grad


@pytest.mark.parametrize("rates", [[-1.0], [float("nan")], [1, 2]])
def test_poisson_errors_match_pytorch(torch, rates):
    with pytest.raises(Exception) as expected:
        torch.poisson(torch.tensor(rates))
    with pytest.raises(type(expected.value)) as got:
        ember.poisson(ember.tensor(rates))
    assert str(got.value) == str(expected.value)


def test_binomial_draws_have_the_right_mean_and_clamp_as_pytorch():
    generator = ember.Generator().manual_seed(5)
    count = ember.full((20000,), 10.0)
    draws = ember.binomial(count, ember.full((20000,), 0.3), generator=generator).numpy()
    assert abs(draws.mean() - 3.0) < 0.05 and draws.max() <= 10 and draws.min() >= 0
    # PyTorch's CPU kernel: a probability above 1 gives every trial, a negative count none
    assert ember.binomial(ember.tensor([5.0]), ember.tensor([1.5])).tolist() == [5.0]
    assert ember.binomial(ember.tensor([-5.0]), ember.tensor([0.5])).tolist() == [0.0]
    broadcast = ember.binomial(ember.tensor([[4.0], [8.0]]), ember.tensor([0.0, 1.0]))
    assert broadcast.tolist() == [[0.0, 4.0], [0.0, 8.0]]


@pytest.mark.parametrize("count, prob", [
    ([5], [0.5]), ([5.0, 4.0], [0.5, 0.1, 0.3]), ([5.0], np.array([0.5]))])
def test_binomial_errors_match_pytorch(torch, count, prob):
    torch_prob = (torch.tensor(prob, dtype=torch.float64) if isinstance(prob, np.ndarray)
                  else torch.tensor(prob))
    ember_prob = (ember.tensor(prob, dtype=ember.float64) if isinstance(prob, np.ndarray)
                  else ember.tensor(prob))
    with pytest.raises(Exception) as expected:
        torch.binomial(torch.tensor(count), torch_prob)
    with pytest.raises(type(expected.value)) as got:
        ember.binomial(ember.tensor(count), ember_prob)
    assert str(got.value) == str(expected.value)


def test_binomial_records_a_node_whose_backward_raises():
    count = ember.tensor([5.0, 10.0], requires_grad=True)
    draws = ember.binomial(count, ember.tensor([0.5, 0.2]))
    assert draws.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::binomial is not implemented"):
        draws.sum().backward()


_RECORDED_DRAWS = ["fw.bernoulli(x)", "x.bernoulli()", "fw.bernoulli(x, 0.3)", "fw.normal(x, 1.0)",
                   "fw.normal(0.0, s)", "fw.normal(x, s)", "fw.normal(x.detach(), 1.0)",
                   "fw.poisson(x)", "fw.binomial(s, x)"]


@pytest.mark.parametrize("call", _RECORDED_DRAWS)
def test_draws_from_grad_requiring_parameters_are_recorded_as_torch(torch, call):
    """bernoulli and normal record torch's nodes (zero gradients: BernoulliBackward0,
    NormalBackward1-3); bernoulli with a number p and binomial raise on backward."""
    def run(fw):
        fw.manual_seed(0)
        x = fw.tensor([0.5, 0.25, 0.9, 0.5], requires_grad=True)
        s = fw.tensor([1.0, 2.0, 0.5, 1.0], requires_grad=True)
        draws = eval(call, {"fw": fw, "x": x, "s": s})
        row = [draws.tolist(), draws.requires_grad,
               draws.grad_fn.name() if draws.grad_fn is not None else None]
        if draws.requires_grad:
            try:
                grads = fw.autograd.grad(draws.sum(), [x, s], allow_unused=True)
                row.append([None if grad is None else grad.tolist() for grad in grads])
            except RuntimeError as error:
                row.append(str(error))
        return row
    assert run(ember) == run(torch)
