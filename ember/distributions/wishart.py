"""``torch.distributions.Wishart``."""
import math
import numbers
import warnings

import numpy as np

from .._dtype import finfo
from .._factories import arange, eye, randn, tensor
from ..linalg import cholesky, slogdet, solve_triangular
from ..ops import broadcast_shapes, diag_embed, digamma, mvlgamma, where
from ..tensor import Size, Tensor
from . import constraints
from .chi2 import Chi2
from .exp_family import ExponentialFamily
from .multivariate_normal import ScaleTrilMatrices

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def _multivariate_digamma(x, p):
    """d/dx of mvlgamma(x, p): sum_i digamma(x - i / 2)."""
    offsets = arange(p, dtype=x.dtype) / 2
    return digamma(x.unsqueeze(-1) - offsets.expand(tuple(x.shape) + (-1,))).sum(-1)


def _whitened(scale_tril, matrix):
    """L^-1 M L^-T for a symmetric M (whose trace is that of (L L^T)^-1 M), by two triangular
    solves (batches broadcast)."""
    batch = broadcast_shapes(tuple(scale_tril.shape[:-2]), tuple(matrix.shape[:-2]))
    size = scale_tril.shape[-1]
    scale_tril = scale_tril.expand(tuple(batch) + (size, size))
    half = solve_triangular(scale_tril, matrix.expand(tuple(batch) + (size, size)), upper=False)
    return solve_triangular(scale_tril, half.mT, upper=False)


class Wishart(ScaleTrilMatrices, ExponentialFamily):
    """The Wishart distribution of positive-definite matrices with ``df`` degrees of freedom
    and scale given by exactly one of ``covariance_matrix``, ``precision_matrix`` or
    ``scale_tril``; draws by Bartlett's decomposition."""

    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self.event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = [matrix for matrix in (covariance_matrix, precision_matrix, scale_tril)
                 if matrix is not None]
        if len(given) != 1:
            # AssertionError, as PyTorch 2.13 raises here
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        (matrix,) = given
        if matrix.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if isinstance(df, numbers.Number):
            batch_shape = Size(matrix.shape[:-2])
            self.df = tensor(df, dtype=matrix.dtype)
        else:
            batch_shape = Size(broadcast_shapes(tuple(matrix.shape[:-2]), tuple(df.shape)))
            self.df = df.expand(batch_shape)
        event_shape = matrix.shape[-2:]
        size = event_shape[-1]
        if bool((self.df <= size - 1).any()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = "
                             f"{size - 1}.")
        for name, value in (("scale_tril", scale_tril), ("covariance_matrix", covariance_matrix),
                            ("precision_matrix", precision_matrix)):
            if value is not None:
                setattr(self, name, value.expand(tuple(batch_shape) + (-1, -1)))
        if bool((self.df < size).any()):
            warnings.warn("Low df values detected. Singular samples are highly likely to occur "
                          "for ndim - 1 < df < ndim.", stacklevel=2)
        super().__init__(batch_shape, event_shape, validate_args=validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            # chol(P^-1) from chol(P) = L_P: the flip-transpose-inverse of the flipped factor.
            flipped = cholesky(precision_matrix.flip((-2, -1)))
            inverse = solve_triangular(flipped.flip((-2, -1)).mT,
                                       eye(size, dtype=matrix.dtype), upper=False)
            self._unbroadcasted_scale_tril = inverse
        self._dist_chi2 = self._bartlett_chi2(batch_shape)

    def _bartlett_chi2(self, batch_shape):
        """The chi-squared distributions of the squared diagonal of Bartlett's factor: df - i
        degrees of freedom in row i."""
        size = self._event_shape[-1]
        offsets = arange(size, dtype=self._unbroadcasted_scale_tril.dtype)
        return Chi2(df=self.df.unsqueeze(-1) - offsets.expand(tuple(batch_shape) + (-1,)))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Wishart, _instance)
        batch_shape = Size(batch_shape)
        matrix_shape = tuple(batch_shape) + tuple(self.event_shape)
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(matrix_shape)
        new.df = self.df.expand(batch_shape)
        self._expand_matrices(new, matrix_shape)
        new = self._init_expanded(new, batch_shape)
        new._dist_chi2 = new._bartlett_chi2(batch_shape)
        return new

    def _matrix_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape)

    def _df_matrix(self):
        return self.df.view(tuple(self._batch_shape) + (1, 1))

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.covariance_matrix.shape[-1] - 1
        factor = where(factor <= 0, math.nan, factor)
        return factor.view(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        covariance = self.covariance_matrix
        diagonal = covariance.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (covariance.pow(2)
                                    + diagonal.unsqueeze(-1) * diagonal.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape):
        """L A A^T L^T, A lower triangular with sqrt(chi-squared) diagonal and standard normal
        entries below it."""
        eps = finfo(self._unbroadcasted_scale_tril.dtype).eps
        diagonal = self._dist_chi2.rsample(sample_shape).sqrt().clamp(min=eps)
        # PyTorch's draws: one normal per entry below the diagonal, in row-major order
        size = self._event_shape[-1]
        rows, columns = np.tril_indices(size, -1)
        shape = tuple(self._extended_shape(sample_shape))
        below = randn(shape[:-2] + (len(rows),), dtype=diagonal.dtype)._data
        lower = np.zeros(shape, dtype=below.dtype)
        lower[..., rows, columns] = below
        factor = self._unbroadcasted_scale_tril @ (Tensor._wrap(lower) + diag_embed(diagonal))
        return factor @ factor.mT

    def _per_sample(self, flags):
        """``flags`` over sample and batch dims, true where any of a sample's batch is."""
        for _ in range(len(self._batch_shape)):
            flags = flags.any(-1)
        return flags

    def rsample(self, sample_shape=Size(), max_try_correction=10):
        """Draws; a draw that comes out singular (possible for df close to ndim - 1) is drawn
        again, up to ``max_try_correction`` times.

        PyTorch 2.13 first marks the samples its support check passes (the valid ones) and
        draws those once more, then redraws the singular ones. ember makes the same draws, so
        the same seed gives PyTorch's samples, but warns only when a sample is singular."""
        sample_shape = Size(sample_shape)
        sample = self._bartlett_sampling(sample_shape)
        if bool((~self._per_sample(self.support.check(sample))).any()):
            warnings.warn("Singular sample detected.", stacklevel=2)
        marked = self._per_sample(self.support.check(sample))
        if not bool(marked.any()):
            return sample
        sample = sample.clone()
        for _ in range(max_try_correction):
            count = int(marked.sum())
            redrawn = self._bartlett_sampling(Size((count,)))
            if marked.dim() == 0:
                sample = redrawn[0]
            else:
                sample[marked] = redrawn
            singular = ~self._per_sample(self.support.check(redrawn))
            if not bool(singular.any()):
                break
            flat = marked.reshape(-1).clone()
            flat[flat.clone()] = singular
            marked = flat.reshape(marked.shape)
        return sample

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        df = self.df
        size = self._event_shape[-1]
        log_det_scale = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        trace = _whitened(self._unbroadcasted_scale_tril, value).diagonal(dim1=-2,
                                                                          dim2=-1).sum(-1)
        return (-df * (size * _LOG_2 / 2 + log_det_scale) - mvlgamma(df / 2, p=size)
                + (df - size - 1) / 2 * slogdet(value).logabsdet - trace / 2)

    def entropy(self):
        df = self.df
        size = self._event_shape[-1]
        log_det_scale = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((size + 1) * (size * _LOG_2 / 2 + log_det_scale) + mvlgamma(df / 2, p=size)
                - (df - size - 1) / 2 * _multivariate_digamma(df / 2, size) + df * size / 2)

    @property
    def _natural_params(self):
        size = self._event_shape[-1]
        return -self.precision_matrix / 2, (self.df - size - 1) / 2

    def _log_normalizer(self, x, y):
        size = self._event_shape[-1]
        return ((y + (size + 1) / 2) * (-slogdet(-2 * x).logabsdet + _LOG_2 * size)
                + mvlgamma(y + (size + 1) / 2, p=size))
