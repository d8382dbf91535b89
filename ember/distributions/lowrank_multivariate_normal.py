"""``torch.distributions.LowRankMultivariateNormal``: covariance W W^T + diag(D), evaluated
through the m x m capacitance matrix I + W^T D^-1 W (Woodbury), never the n x n one."""
import math

from .._factories import eye, randn
from ..linalg import cholesky, solve_triangular
from ..ops import broadcast_tensors, diag_embed
from ..tensor import Size
from . import constraints
from .distribution import Distribution, LocationScale, lazy_property
from .multivariate_normal import _mahalanobis

__all__ = ["LowRankMultivariateNormal"]


def _capacitance_tril(cov_factor, cov_diag):
    """Cholesky factor of I + W^T D^-1 W."""
    rank = cov_factor.size(-1)
    scaled_transpose = cov_factor.mT / cov_diag.unsqueeze(-2)
    return cholesky(scaled_transpose @ cov_factor + eye(rank, dtype=cov_factor.dtype))


class LowRankMultivariateNormal(Distribution):
    """The normal distribution over vectors with mean ``loc`` and covariance
    ``cov_factor @ cov_factor.mT + diag(cov_diag)``."""

    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = loc.shape[-1:]
        if cov_factor.dim() < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if cov_factor.shape[-2:-1] != event_shape:
            raise ValueError(f"cov_factor must be a batch of matrices with shape "
                             f"{event_shape[0]} x m")
        if cov_diag.shape[-1:] != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape {event_shape}")
        try:
            loc_column, self.cov_factor, diag_column = broadcast_tensors(
                loc.unsqueeze(-1), cov_factor, cov_diag.unsqueeze(-1))
        except RuntimeError as error:
            raise ValueError(f"Incompatible batch shapes: loc {loc.shape}, cov_factor "
                             f"{cov_factor.shape}, cov_diag {cov_diag.shape}") from error
        self.loc = loc_column[..., 0]
        self.cov_diag = diag_column[..., 0]
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)
        super().__init__(self.loc.shape[:-1], event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LowRankMultivariateNormal, _instance)
        batch_shape = Size(batch_shape)
        loc_shape = tuple(batch_shape) + tuple(self.event_shape)
        new.loc = self.loc.expand(loc_shape)
        new.cov_diag = self.cov_diag.expand(loc_shape)
        new.cov_factor = self.cov_factor.expand(loc_shape + tuple(self.cov_factor.shape[-1:]))
        new._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        new._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        new._capacitance_tril = self._capacitance_tril
        return self._init_expanded(new, batch_shape)

    mean = LocationScale.mean
    mode = LocationScale.mode

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape) + tuple(self._event_shape)

    @lazy_property
    def variance(self):
        variance = self._unbroadcasted_cov_factor.pow(2).sum(-1) + self._unbroadcasted_cov_diag
        return variance.expand(tuple(self._batch_shape) + tuple(self._event_shape))

    @lazy_property
    def scale_tril(self):
        # D^1/2 chol(I + D^-1/2 W W^T D^-1/2)
        size = self._event_shape[0]
        root_diag = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)
        whitened = self._unbroadcasted_cov_factor / root_diag
        inner = whitened @ whitened.mT + eye(size, dtype=whitened.dtype)
        return (root_diag * cholesky(inner)).expand(self._matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        factor = self._unbroadcasted_cov_factor
        covariance = factor @ factor.mT + diag_embed(self._unbroadcasted_cov_diag)
        return covariance.expand(self._matrix_shape())

    @lazy_property
    def precision_matrix(self):
        correction = self._inverse_correction()
        precision = (diag_embed(self._unbroadcasted_cov_diag.reciprocal())
                     - correction.mT @ correction)
        return precision.expand(self._matrix_shape())

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        factor_noise = randn(tuple(shape[:-1]) + tuple(self.cov_factor.shape[-1:]),
                             dtype=self.loc.dtype)
        diag_noise = randn(shape, dtype=self.loc.dtype)
        return (self.loc + (self._unbroadcasted_cov_factor @ factor_noise.unsqueeze(-1)).squeeze(-1)
                + self._unbroadcasted_cov_diag.sqrt() * diag_noise)

    def _log_det(self):
        return (2 * self._capacitance_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                + self._unbroadcasted_cov_diag.log().sum(-1))

    def _scaled_factor_transpose(self):
        """W^T D^-1."""
        return self._unbroadcasted_cov_factor.mT / self._unbroadcasted_cov_diag.unsqueeze(-2)

    def _mahalanobis(self, difference):
        """d^T (W W^T + D)^-1 d by Woodbury."""
        projected = (self._scaled_factor_transpose() @ difference.unsqueeze(-1)).squeeze(-1)
        return ((difference.pow(2) / self._unbroadcasted_cov_diag).sum(-1)
                - _mahalanobis(self._capacitance_tril, projected))

    def _inverse_correction(self):
        """A with (W W^T + D)^-1 = D^-1 - A^T A: the capacitance factor solved against
        W^T D^-1."""
        return solve_triangular(self._capacitance_tril, self._scaled_factor_transpose(),
                                upper=False)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        distance = self._mahalanobis(value - self.loc)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + self._log_det() + distance)

    def entropy(self):
        size = self._event_shape[0]
        entropy = 0.5 * (size * (1.0 + math.log(2 * math.pi)) + self._log_det())
        if len(self._batch_shape) == 0:
            return entropy
        return entropy.expand(self._batch_shape)
