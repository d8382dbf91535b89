"""``torch.distributions.NegativeBinomial``."""
from ..autograd.grad_mode import no_grad
from ..nn.functional import logsigmoid
from ..ops import exp, lgamma, sigmoid, where
from ..tensor import Size
from . import constraints
from .binomial import expanded_count_and_probs, set_count_and_probs_or_logits
from .distribution import BinaryProbsOrLogits, Distribution, lazy_property
from .gamma import Gamma
from .poisson import poisson_draws

__all__ = ["NegativeBinomial"]


class NegativeBinomial(BinaryProbsOrLogits, Distribution):
    """The number of successes before ``total_count`` failures of Bernoulli(``probs``)
    trials."""

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        set_count_and_probs_or_logits(self, total_count, probs, logits)
        super().__init__(self._param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return expanded_count_and_probs(self, NegativeBinomial, batch_shape, _instance)

    @property
    def mean(self):
        return self.total_count * exp(self.logits)

    @property
    def mode(self):
        return ((self.total_count - 1) * exp(self.logits)).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / sigmoid(-self.logits)

    @lazy_property
    def _gamma(self):
        return Gamma(concentration=self.total_count, rate=exp(-self.logits), validate_args=False)

    def sample(self, sample_shape=Size()):
        # A Poisson draw whose rate is a Gamma draw.
        with no_grad():
            return poisson_draws(self._gamma.sample(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        unnormalized = (self.total_count * logsigmoid(-self.logits)
                        + value * logsigmoid(self.logits))
        normalizer = (-lgamma(self.total_count + value) + lgamma(1.0 + value)
                      + lgamma(self.total_count))
        # total_count = value = 0 has probability 1, but lgamma(0) is infinite.
        normalizer = where(self.total_count + value == 0.0, 0.0, normalizer)
        return unnormalized - normalizer
