"""Embedding: a lookup table of learnable vectors indexed by integers."""
from ... import _factories
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module
from .utils import _changed_options


def _padding_index(padding_idx, num_embeddings, message):
    """``padding_idx`` checked against ``num_embeddings`` and made non-negative (None stays).
    These checks raise AssertionError, as PyTorch's asserts do (raised, so python -O keeps
    them)."""
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise AssertionError(message)
        if padding_idx < 0:
            padding_idx = num_embeddings + padding_idx
    return padding_idx


def _pretrained_shape(embeddings):
    """(rows, columns) of the 2-D table given to ``from_pretrained``."""
    if embeddings.dim() != 2:
        raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
    return tuple(embeddings.shape)


class _EmbeddingTable(Module):
    """The weight table Embedding and EmbeddingBag share, with the options of its lookup: a
    fresh N(0, 1) weight (padding row zero), or the given ``_weight`` after a shape check."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                 scale_grad_by_freq, _weight, requires_grad, dtype, padding_message):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings, padding_message)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        shape = [num_embeddings, embedding_dim]
        if _weight is None:
            self.weight = Parameter(_factories.empty(tuple(shape), dtype=dtype),
                                    requires_grad=requires_grad)
            self.reset_parameters()
        else:
            if list(_weight.shape) != shape:
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self.weight = Parameter(_weight, requires_grad=requires_grad)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0
            self.weight._bump_version()


class Embedding(_EmbeddingTable):
    """Rows of ``weight`` (num_embeddings, embedding_dim), initialised N(0, 1); the
    ``padding_idx`` row starts at zero and receives no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, _weight, not _freeze, dtype,
                         "Padding_idx must be within num_embeddings")
        self.sparse = sparse

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}" + _changed_options(self, (
            ("padding_idx", None), ("max_norm", None), ("norm_type", 2),
            ("scale_grad_by_freq", False)))
        if self.sparse is not False:
            text += ", sparse=True"
        return text

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (2-D), frozen unless ``freeze=False``."""
        rows, columns = _pretrained_shape(embeddings)
        return cls(rows, columns, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
                   _weight=embeddings, _freeze=freeze)


class EmbeddingBag(_EmbeddingTable):
    """Sums, means or maxima of bags of embeddings, without materialising the per-index rows
    for the caller; ``weight`` initialised N(0, 1) (``padding_idx`` row zero)."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__(num_embeddings, embedding_dim, padding_idx, max_norm, norm_type,
                         scale_grad_by_freq, _weight, True, dtype,
                         "padding_idx must be within num_embeddings")
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}" + _changed_options(self, (
            ("max_norm", None), ("norm_type", 2), ("scale_grad_by_freq", False)), repr)
        text += f", mode={self.mode!r}"
        return text + _changed_options(self, (("padding_idx", None),), repr)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is ``embeddings`` (2-D), frozen unless
        ``freeze=False``."""
        rows, columns = _pretrained_shape(embeddings)
        bag = cls(rows, columns, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  embeddings, include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
