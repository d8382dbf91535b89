"""``torch.distributions.Dirichlet``."""
from .._factories import eye
from ..ops import digamma, lgamma, where, xlogy
from ..tensor import Size
from . import constraints
from .exp_family import ExponentialFamily
from .gamma import StandardGamma

__all__ = ["Dirichlet"]


class Dirichlet(ExponentialFamily):
    """The Dirichlet distribution over the simplex of the last dim of ``concentration``."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = Size(batch_shape)
        new.concentration = self.concentration.expand(tuple(batch_shape) + tuple(self.event_shape))
        return self._init_expanded(new, batch_shape)

    def rsample(self, sample_shape=Size()):
        # Normalised gamma draws; their gradient is the gammas' implicit one through the
        # normalisation (PyTorch differentiates the Beta marginals instead: the same expectation).
        # The gammas are drawn and normalised in float64, as PyTorch's _sample_dirichlet does.
        concentration = self.concentration.expand(self._extended_shape(sample_shape))
        gammas = StandardGamma.apply(concentration, True)
        return (gammas / gammas.sum(-1, keepdim=True)).to(concentration.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration - 1.0, value).sum(-1)
                + lgamma(self.concentration.sum(-1)) - lgamma(self.concentration).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        excess = (self.concentration - 1).clamp(min=0.0)
        mode = excess / excess.sum(-1, keepdim=True)
        # Where every concentration is below 1 PyTorch puts the mode at a vertex: the argmax of
        # the 0/0 row, its first entry.
        all_below_one = (self.concentration < 1).all(dim=-1, keepdim=True)
        vertex = eye(excess.shape[-1], dtype=mode.dtype)[mode.argmax(-1)]
        return where(all_below_one, vertex, mode)

    @property
    def variance(self):
        total = self.concentration.sum(-1, keepdim=True)
        return (self.concentration * (total - self.concentration)
                / (total.pow(2) * (total + 1)))

    def entropy(self):
        count = self.concentration.size(-1)
        total = self.concentration.sum(-1)
        return (lgamma(self.concentration).sum(-1) - lgamma(total)
                - (count - total) * digamma(total)
                - ((self.concentration - 1.0) * digamma(self.concentration)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return lgamma(x).sum(-1) - lgamma(x.sum(-1))
