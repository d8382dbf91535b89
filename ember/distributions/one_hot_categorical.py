"""``torch.distributions.OneHotCategorical``."""
from operator import attrgetter

from .._factories import eye
from ..tensor import Size
from . import constraints
from .categorical import Categorical
from .distribution import Distribution

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(Distribution):
    """A Categorical draw as a one-hot vector of length ``K`` (the event)."""

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expanded_categorical(OneHotCategorical, batch_shape, _instance)

    _param = property(attrgetter("_categorical._param"))
    probs = property(attrgetter("_categorical.probs"))
    logits = property(attrgetter("_categorical.logits"))
    param_shape = property(attrgetter("_categorical.param_shape"))
    mean = probs

    @property
    def mode(self):
        return self._one_hot(self._categorical.probs.argmax(-1))

    @property
    def variance(self):
        return self._categorical.probs * (1 - self._categorical.probs)

    def _one_hot(self, indices):
        """Rows of the identity, in the probabilities' dtype."""
        identity = eye(self._categorical._num_events, dtype=self._categorical.probs.dtype)
        return identity[indices]

    def sample(self, sample_shape=Size()):
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        indices = value.max(-1)[1]
        return self._categorical.log_prob(indices)

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        count = self.event_shape[0]
        values = eye(count, dtype=self._param.dtype)
        values = values.view((count,) + (1,) * len(self.batch_shape) + (count,))
        if expand:
            values = values.expand((count,) + tuple(self.batch_shape) + (count,))
        return values


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical whose rsample passes gradients straight through: the one-hot draw in
    the forward, the gradient of the probabilities in the backward (Bengio et al., 2013)."""

    has_rsample = True

    def rsample(self, sample_shape=Size()):
        draws = self.sample(sample_shape)
        probs = self._categorical.probs
        return draws + (probs - probs.detach())
