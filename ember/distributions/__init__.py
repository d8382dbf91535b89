"""``torch.distributions``: probability distributions whose log_prob, entropy, KL and
reparameterised samples are differentiable through ember's autograd. Draws come from ember's
generator (``ember.manual_seed``), so they are not PyTorch's numbers for the same seed."""
from . import constraints  # noqa: F401
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .exponential import Exponential
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Exponential", "Independent", "Laplace",
           "MultivariateNormal", "Normal", "OneHotCategorical", "Uniform", "kl_divergence",
           "register_kl"]
