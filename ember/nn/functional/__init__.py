"""The functional forms of ember.nn's layers (PyTorch's torch.nn.functional, imported as F).

One private module per family of PyTorch's reference (activation, attention, conv, distance,
dropout, linear, loss, normalization, padding, pooling, sparse, vision); each family's
``__all__`` is the one list of its public names, and this package is only their union. A family
function checks its arguments, then runs one kernel from ember.nn._kernels or composes ember.ops
primitives. Mode-dependent functions take ``training`` as an argument and never read a global mode.
"""
from . import (
    _activation, _attention, _conv, _distance, _dropout, _linear, _loss, _normalization,
    _padding, _pooling, _sparse, _unpooling, _vision)
from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._distance import *  # noqa: F401,F403
from ._dropout import *  # noqa: F401,F403
from ._linear import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._normalization import *  # noqa: F401,F403
from ._padding import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._sparse import *  # noqa: F401,F403
from ._unpooling import *  # noqa: F401,F403
from ._vision import *  # noqa: F401,F403
# torch.nn.functional re-exports the __torch_function__ protocol's helpers (functions written
# in its style call them through F).
from ...overrides import (  # noqa: F401,E402
    handle_torch_function, has_torch_function, has_torch_function_unary,
    has_torch_function_variadic)
# PyTorch's F has these two private helpers as well; MultiheadAttention uses them.
from ._attention import _canonical_mask, _none_or_dtype  # noqa: F401

__all__ = (_activation.__all__ + _attention.__all__ + _conv.__all__ + _distance.__all__
           + _dropout.__all__ + _linear.__all__ + _loss.__all__ + _normalization.__all__
           + _padding.__all__ + _pooling.__all__ + _sparse.__all__ + _unpooling.__all__
           + _vision.__all__)
