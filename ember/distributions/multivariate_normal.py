"""``torch.distributions.MultivariateNormal``."""
import math

from .._factories import eye, randn
from ..linalg import cholesky, inv, solve_triangular
from ..ops import broadcast_shapes
from ..tensor import Size
from . import constraints
from .distribution import Distribution, LocationScale, lazy_property

__all__ = ["MultivariateNormal"]


def _mahalanobis(scale_tril, difference):
    """|L^-1 d|^2 over the last dim, broadcasting L's batch dims with d's (sample dims
    included); a triangular solve, so the gradient to L stays lower triangular."""
    whitened = solve_triangular(scale_tril, difference.unsqueeze(-1), upper=False).squeeze(-1)
    return whitened.pow(2).sum(-1)


class ScaleTrilMatrices:
    """The matrices of a distribution parameterised by a lower Cholesky factor
    ``_unbroadcasted_scale_tril`` (MultivariateNormal, Wishart): each derived on first read and
    expanded to ``_matrix_shape()``."""

    _matrix_names = ("covariance_matrix", "scale_tril", "precision_matrix")

    def _expand_matrices(self, new, matrix_shape):
        """Give ``new`` the matrices this distribution holds, expanded to ``matrix_shape``."""
        for name in self._matrix_names:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(matrix_shape))

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        scale_tril = self._unbroadcasted_scale_tril
        return (scale_tril @ scale_tril.mT).expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        # (L L^T)^-1 = L^-T L^-1
        scale_tril = self._unbroadcasted_scale_tril
        identity = eye(scale_tril.shape[-1], dtype=scale_tril.dtype)
        inverse = solve_triangular(scale_tril, identity, upper=False)
        return (inverse.mT @ inverse).expand(self._matrix_shape())


class MultivariateNormal(ScaleTrilMatrices, Distribution):
    """The normal distribution over vectors, with mean ``loc`` and exactly one of
    ``covariance_matrix``, ``precision_matrix`` or ``scale_tril`` (the lower Cholesky factor
    of the covariance)."""

    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [matrix is not None for matrix in (covariance_matrix, precision_matrix,
                                                    scale_tril)]
        if sum(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        for name, matrix in (("scale_tril", scale_tril),
                             ("covariance_matrix", covariance_matrix),
                             ("precision_matrix", precision_matrix)):
            if matrix is None:
                continue
            if matrix.dim() < 2:
                label = "scale_tril matrix" if name == "scale_tril" else name
                raise ValueError(f"{label} must be at least two-dimensional, with "
                                 "optional leading batch dimensions")
            batch_shape = Size(broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
            setattr(self, name, matrix.expand(tuple(batch_shape) + (-1, -1)))
        self.loc = loc.expand(tuple(batch_shape) + (-1,))
        super().__init__(batch_shape, loc.shape[-1:], validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            # The Cholesky factor of the covariance, the inverse of the precision.
            self._unbroadcasted_scale_tril = cholesky(inv(precision_matrix))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(MultivariateNormal, _instance)
        batch_shape = Size(batch_shape)
        loc_shape = tuple(batch_shape) + tuple(self.event_shape)
        matrix_shape = loc_shape + tuple(self.event_shape)
        new.loc = self.loc.expand(loc_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        self._expand_matrices(new, matrix_shape)
        return self._init_expanded(new, batch_shape)

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape) + tuple(self._event_shape)

    mean = LocationScale.mean
    mode = LocationScale.mode

    @property
    def variance(self):
        variance = self._unbroadcasted_scale_tril.pow(2).sum(-1)
        return variance.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=Size()):
        noise = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        correlated = (self._unbroadcasted_scale_tril @ noise.unsqueeze(-1)).squeeze(-1)
        return self.loc + correlated

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        distance = _mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        size = self._event_shape[0]
        return -0.5 * (size * math.log(2 * math.pi) + distance) - self._half_log_det()

    def entropy(self):
        size = self._event_shape[0]
        entropy = 0.5 * size * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        if len(self._batch_shape) == 0:
            return entropy
        return entropy.expand(self._batch_shape)
