"""``torch.distributions.LKJCholesky``: the LKJ distribution over correlation matrices, on their
Cholesky factors (Lewandowski, Kurowicka and Joe, 2009)."""
import math

from .._dtype import finfo
from .._factories import arange, randn, zeros
from ..autograd.grad_mode import no_grad
from ..ops import cat, diag_embed, lgamma, mvlgamma, where
from ..tensor import Size
from . import constraints
from .beta import Beta
from .distribution import Distribution, broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """Cholesky factors L of ``dim`` x ``dim`` correlation matrices with density proportional
    to det(L L^T)^(concentration - 1); drawn by the onion method."""

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        # Row i of L has squared length Beta(i / 2, concentration + (dim - 2 - i) / 2) off the
        # diagonal (row 0 gets a placeholder, it has nothing off the diagonal).
        marginal = self.concentration + 0.5 * (self.dim - 2)
        offset = arange(self.dim - 1, dtype=self.concentration.dtype)
        offset = cat([zeros(1, dtype=offset.dtype), offset])
        self._beta = Beta(offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset)
        super().__init__(self.concentration.size(), Size((dim, dim)), validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(tuple(batch_shape) + (self.dim,))
        return self._init_expanded(new, batch_shape)

    def sample(self, sample_shape=Size()):
        with no_grad():
            radius_squared = self._beta.sample(sample_shape).unsqueeze(-1)
            normal = randn(self._extended_shape(sample_shape),
                           dtype=radius_squared.dtype).tril(-1)
            # uniform directions on each row's hypersphere; row 0 has no off-diagonal part
            directions = normal / normal.norm(dim=-1, keepdim=True)
            first_row = (arange(self.dim) == 0).unsqueeze(-1)
            directions = where(first_row, 0.0, directions)
            off_diagonal = radius_squared.sqrt() * directions
            tiny = finfo(off_diagonal.dtype).tiny
            diagonal = (1 - off_diagonal.pow(2).sum(-1)).clamp(min=tiny).sqrt()
            return off_diagonal + diag_embed(diagonal)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        diagonal = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = arange(2, self.dim + 1)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diagonal.log()).sum(-1)
        size = self.dim - 1
        alpha = self.concentration + 0.5 * size
        normalizer = (0.5 * size * math.log(math.pi) + mvlgamma(alpha - 0.5, size)
                      - lgamma(alpha) * size)
        return unnormalized - normalizer
