"""``torch.distributions.Distribution``: batch and event shapes, argument and sample
validation with PyTorch's errors, and the helpers the distributions share."""
import numbers
import warnings
from operator import attrgetter

import numpy as np

from .._dtype import finfo
from .._factories import tensor, zeros_like
from ..autograd.grad_mode import enable_grad, no_grad
from ..ops import broadcast_tensors, cat, clamp, log, log1p, sigmoid, softmax
from ..tensor import Size, Tensor
from . import constraints

__all__ = ["Distribution"]

euler_constant = 0.57721566490153286060  # the Euler-Mascheroni constant


class Distribution:
    """Base of every distribution: ``batch_shape`` indexes independent distributions,
    ``event_shape`` is the shape of one draw."""

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value):
        """Turn argument and sample validation on or off for distributions made afterwards."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set "
                              "`arg_constraints = {}` or initialize the distribution with "
                              "`validate_args=False` to turn off validation.", stacklevel=2)
            for parameter, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if parameter not in self.__dict__ and isinstance(
                        getattr(type(self), parameter, None), lazy_property):
                    continue  # skip the parameter that was not given (probs or logits)
                value = getattr(self, parameter)
                if isinstance(value, Tensor) and value._requires_grad:
                    with no_grad():  # a check's arithmetic (simplex: sum, -1, abs) needs no graph
                        valid = constraint.check(value)
                else:
                    valid = constraint.check(value)
                if not bool(valid.all()):
                    raise ValueError(
                        f"Expected parameter {parameter} ({type(value).__name__} of shape "
                        f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                        f"constraint {constraint!r}, but found invalid values:\n{value}")

    def expand(self, batch_shape, _instance=None):
        raise NotImplementedError

    batch_shape = property(attrgetter("_batch_shape"))
    event_shape = property(attrgetter("_event_shape"))

    @property
    def arg_constraints(self):
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def mean(self):
        raise NotImplementedError

    @property
    def mode(self):
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=Size()):
        """A draw without gradients (the reparameterised draw, detached, where there is one)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()):
        raise NotImplementedError

    def sample_n(self, n):
        warnings.warn("sample_n will be deprecated. Use .sample((n,)) instead", UserWarning,
                      stacklevel=2)
        return self.sample(Size((n,)))

    def log_prob(self, value):
        raise NotImplementedError

    def cdf(self, value):
        raise NotImplementedError

    def icdf(self, value):
        raise NotImplementedError

    def enumerate_support(self, expand=True):
        raise NotImplementedError

    def entropy(self):
        raise NotImplementedError

    def perplexity(self):
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=Size()):
        """sample_shape + batch_shape + event_shape."""
        return Size(tuple(Size(sample_shape)) + tuple(self._batch_shape)
                    + tuple(self._event_shape))

    def _validate_sample(self, value):
        """PyTorch's checks of a value given to log_prob (and cdf): a Tensor, the event shape
        rightmost, broadcastable with the batch, inside the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = value.dim() - len(self._event_shape)
        if tuple(value.shape[event_dim_start:]) != tuple(self._event_shape):
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{value.size()} vs {self._event_shape}.")
        actual_shape = value.size()
        expected_shape = Size(tuple(self._batch_shape) + tuple(self._event_shape))
        for actual, expected in zip(reversed(actual_shape), reversed(expected_shape)):
            if actual != 1 and expected != 1 and actual != expected:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{actual_shape} vs {expected_shape}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample "
                          "validation. Please initialize the distribution with "
                          "`validate_args=False` to turn off validation.", stacklevel=2)
            return
        if not bool(support.check(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support!r}) of "
                             f"the distribution {self!r}, but found invalid values:\n{value}")

    def _init_expanded(self, new, batch_shape):
        """Finish ``new``, an expanded copy: its shapes, no second validation of parameters
        already checked, and this distribution's validation setting."""
        Distribution.__init__(new, batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _expanded_categorical(self, cls, batch_shape, _instance):
        """A copy with ``batch_shape`` of a distribution built on a Categorical."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = Size(batch_shape)
        new._categorical = self._categorical.expand(batch_shape)
        return self._init_expanded(new, batch_shape)

    def _expanded(self, cls, batch_shape, _instance, names):
        """A copy with ``batch_shape``, its parameters ``names`` expanded to it (the ``expand``
        of the distributions whose parameters all have the batch shape)."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = Size(batch_shape)
        for name in names:
            setattr(new, name, getattr(self, name).expand(batch_shape))
        return self._init_expanded(new, batch_shape)

    def _expanded_probs_or_logits(self, cls, batch_shape, _instance):
        """A copy with ``batch_shape`` of a distribution whose one parameter, probs or logits,
        has the batch shape."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = Size(batch_shape)
        self._expand_probs_or_logits(new, batch_shape)
        return self._init_expanded(new, batch_shape)

    def _expand_probs_or_logits(self, new, shape):
        """Give ``new`` whichever of probs and logits this distribution holds, expanded to
        ``shape`` (the other stays lazy), as its parameter."""
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, getattr(self, name).expand(shape))
                new._param = getattr(new, name)

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                f"__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def __repr__(self):
        try:
            names = [name for name in self.arg_constraints if name in self.__dict__]
        except NotImplementedError:
            names = []
        fields = []
        for name in names:
            value = self.__dict__[name]
            if value.numel() != 1:
                value = value.size()
            elif value.dim() == 0:
                value = value.item()  # PyTorch's f-string of a 0-d tensor prints its number
            fields.append(f"{name}: {value}")
        return f"{type(self).__name__}({', '.join(fields)})"


class LocationScale(Distribution):
    """The shared parts of the real-valued location-scale families (Normal, Laplace): ``loc``
    and a positive ``scale``, broadcast together, reparameterised draws."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(batch_shape_of((loc, scale), self.loc), validate_args=validate_args)

    mean = property(attrgetter("loc"))
    mode = mean


class lazy_property:
    """A value computed on first read and then stored on the instance (so that argument
    validation sees only the parameters given or already derived). It is computed with grad
    enabled, as PyTorch does: a first read inside ``sample()`` (under no_grad) must still cache a
    value that carries the parameters' graph for a later ``entropy()`` or ``log_prob()``."""

    def __init__(self, function):
        self.function = function
        self.__doc__ = function.__doc__
        self.__name__ = function.__name__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.function(instance)
        instance.__dict__[self.function.__name__] = value
        return value


class BinaryProbsOrLogits:
    """The parameters of a binary event's probability: ``probs`` and ``logits`` (log-odds), the
    one not given derived from the other on first read."""

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self):
        return self._param.size()


def broadcast_all(*values):
    """Tensors broadcast together; numbers become Tensors of the first Tensor's dtype (the
    default dtype when all are numbers)."""
    if not all(isinstance(value, (Tensor, numbers.Number)) for value in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or "
                         "objects implementing __torch_function__.")
    dtype = None
    for value in values:
        if isinstance(value, Tensor):
            dtype = value.dtype
            break
    converted = [value if isinstance(value, Tensor) else tensor(float(value), dtype=dtype)
                 for value in values]
    return broadcast_tensors(*converted)


def clamp_probs(probs):
    """Probabilities clamped into [eps, 1 - eps] of their dtype."""
    eps = finfo(probs.dtype).eps
    return clamp(probs, min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """Logits of probabilities (clamped away from 0 and 1): log-odds when binary."""
    clamped = clamp_probs(probs)
    if is_binary:
        return log(clamped) - log1p(-clamped)
    return log(clamped)


def logits_to_probs(logits, is_binary=False):
    """Probabilities of logits: the sigmoid when binary, else the softmax over the last dim."""
    if is_binary:
        return sigmoid(logits)
    return softmax(logits, dim=-1)


def sum_rightmost(value, dim):
    """The sum over the ``dim`` rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def _tril_positions(size, diag):
    """Row-major flat positions of the entries of a size x size matrix on or below diagonal
    ``diag``."""
    rows, columns = np.indices((size, size))
    return np.flatnonzero(columns < rows + (diag + 1))


def tril_matrix_to_vec(mat, diag=0):
    """The entries of (a batch of) square matrices on or below diagonal ``diag``, row by row."""
    size = mat.shape[-1]
    if diag < -size or diag >= size:
        raise ValueError(f"diag ({diag}) provided is outside [{-size}, {size - 1}].")
    flat = mat.reshape(tuple(mat.shape[:-2]) + (size * size,))
    return flat[..., tensor(_tril_positions(size, diag))]


def vec_to_tril_matrix(vec, diag=0):
    """The square lower-triangular matrices (below diagonal ``diag``, zeros elsewhere) whose
    entries, row by row, are ``vec``'s last dim."""
    length = vec.shape[-1]
    # n (n + 1) / 2 + ... = length, solved for the matrix size n.
    size = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * length
                               + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(size) - size > finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {length} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    size = round(size)
    # index 0 of the padded vector is the zero above the diagonal
    index = np.zeros(size * size, dtype=np.int64)
    index[_tril_positions(size, diag)] = np.arange(1, length + 1)
    padded = cat([zeros_like(vec[..., :1]), vec], -1)
    return padded[..., tensor(index.reshape(size, size))]


def batch_shape_of(given, broadcast):
    """The batch shape of parameters ``given`` (numbers or Tensors) once broadcast: () when all
    are numbers, as PyTorch's."""
    if all(isinstance(value, numbers.Number) for value in given):
        return Size()
    return broadcast.size()
