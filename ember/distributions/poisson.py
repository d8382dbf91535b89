"""``torch.distributions.Poisson``."""
from .. import _random
from ..autograd.grad_mode import no_grad
from ..ops import exp, lgamma, log, xlogy
from ..tensor import Size, Tensor
from . import constraints
from .distribution import batch_shape_of, broadcast_all
from .exp_family import ExponentialFamily

__all__ = ["Poisson"]

def poisson_draws(rate):
    """Poisson counts with the given rates (a Tensor), as floats of the rates' dtype; integer
    rates are refused as torch.poisson refuses them."""
    rates = rate.detach().numpy()
    if not rate.dtype.is_floating_point:
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for "
                                  f"'{rate.dtype._scalar_type}'")
    return Tensor._wrap(_random.poisson(None, rates).astype(rates.dtype))

class Poisson(ExponentialFamily):
    """The Poisson distribution of counts with mean ``rate``."""

    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        (self.rate,) = broadcast_all(rate)
        super().__init__(batch_shape_of((rate,), self.rate), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded(Poisson, batch_shape, _instance, ("rate",))

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=Size()):
        with no_grad():
            return poisson_draws(self.rate.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        rate, value = broadcast_all(self.rate, value)
        return xlogy(value, rate) - rate - lgamma(value + 1)

    @property
    def _natural_params(self):
        return (log(self.rate),)

    def _log_normalizer(self, x):
        return exp(x)
