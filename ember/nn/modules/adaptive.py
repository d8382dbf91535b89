"""AdaptiveLogSoftmaxWithLoss (Grave et al., "Efficient softmax approximation for GPUs"): the
frequent classes in a head softmax with one extra entry per cluster of rare classes, each
cluster a smaller softmax behind a low-rank projection, as PyTorch's layer."""
from collections import namedtuple

import numpy as np

from ... import ops
from ...tensor import Tensor
from .. import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _indices(array):
    return Tensor._wrap(np.asarray(array, np.int64))


class AdaptiveLogSoftmaxWithLoss(Module):
    """``forward(input, target)`` gives each row's log-probability of its target and the mean
    negative log-likelihood; ``log_prob`` the full distribution, ``predict`` its argmax."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1 \
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        options = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **options)
        self.tail = ModuleList()
        for cluster in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (cluster + 1)))
            size = self.cutoffs[cluster + 1] - self.cutoffs[cluster]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **options),
                                        Linear(hidden, size, bias=False, **options)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for projection, output in self.tail:
            projection.reset_parameters()
            output.reset_parameters()

    def forward(self, input, target):
        if target.dim() == 1:
            if input.size(0) != target.size(0):
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input.dim() != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input.size()}")
        elif target.dim() == 0:
            if input.dim() != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input.size()}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target.dim() > 0
        if not batched:
            input = input.unsqueeze(0)
            target = target.unsqueeze(0)
        classes = target._data
        if classes.size and (classes.min() < 0 or classes.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{classes.min()}, {classes.max()}] were "
                               f"found. ")
        # 0 for the shortlist, c for the c-th cluster of rare classes
        cluster_of = np.searchsorted(np.asarray(self.cutoffs), classes, side="right")
        head_column = np.where(cluster_of == 0, classes, self.shortlist_size + cluster_of - 1)
        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = head_logprob.gather(1, _indices(head_column[:, None])).squeeze(1)
        for cluster in range(1, self.n_clusters + 1):
            rows = np.flatnonzero(cluster_of == cluster)
            if rows.size == 0:
                continue
            rows_tensor = _indices(rows)
            local_target = classes[rows] - self.cutoffs[cluster - 1]
            cluster_input = input.index_select(0, rows_tensor)
            cluster_logprob = F.log_softmax(self.tail[cluster - 1](cluster_input), dim=1)
            local = cluster_logprob.gather(1, _indices(local_target[:, None])).squeeze(1)
            output = output.index_add(0, rows_tensor, local)
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, input, head_output):
        """Every class's log-probability: the head's for the shortlist, each cluster's own
        plus its entry in the head for the rest."""
        head_logprob = F.log_softmax(head_output, dim=1)
        pieces = [head_logprob[:, :self.shortlist_size]]
        for cluster, projection in enumerate(self.tail):
            cluster_logprob = F.log_softmax(projection(input), dim=1)
            column = self.shortlist_size + cluster
            pieces.append(cluster_logprob + head_logprob[:, column:column + 1])
        return ops.cat(pieces, 1)

    def log_prob(self, input):
        """The log-probability of every class for a batch (N, in_features)."""
        return self._full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row of a batch (the head's argmax where it is a
        shortlist class, else the argmax of the full distribution)."""
        head_output = self.head(input)
        output = ops.argmax(head_output, dim=1)
        rare = output._data >= self.shortlist_size
        if rare.any():
            rows = _indices(np.flatnonzero(rare))
            full = self._full_log_prob(input.index_select(0, rows),
                                       head_output.index_select(0, rows))
            output = output.index_copy(0, rows, ops.argmax(full, dim=1))
        return output
