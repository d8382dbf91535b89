"""Dropout layers: active while ``self.training``, the identity in eval mode."""
from .. import functional as F
from ..functional._dropout import check_probability
from .module import Module
from .utils import _Family


class _DropoutNd(_Family, Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        check_probability(p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    def forward(self, input, generator=None):
        return type(self)._functional(input, self.p, self.training, self.inplace, generator)


class Dropout(_DropoutNd, functional=F.dropout):
    """Zero each element with probability p in training and scale survivors by 1/(1-p)."""


class Dropout1d(_DropoutNd, functional=F.dropout1d):
    """Zero whole channels of (N, C, L) or (C, L) inputs."""


class Dropout2d(_DropoutNd, functional=F.dropout2d):
    """Zero whole channels of (N, C, H, W) inputs (3-D inputs get 1-D channel dropout)."""


class Dropout3d(_DropoutNd, functional=F.dropout3d):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks, keeping zero mean and unit variance (``inplace`` is ignored)."""

    def forward(self, input, generator=None):
        return F.alpha_dropout(input, self.p, self.training, generator=generator)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout of whole channels."""

    def forward(self, input, generator=None):
        return F.feature_alpha_dropout(input, self.p, self.training, generator=generator)
