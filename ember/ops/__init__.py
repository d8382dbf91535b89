"""Tensor primitives, one Function per op with its public wrapper beside it, grouped in families.

The files are layered, each importing only from those before it:
``_broadcast < elementwise (its own families, ``_operands`` first) < index < shape < reduce <
linalg``. Each family's ``__all__`` is the one list of its public names; this package's
``__all__`` is their union, and ``ember`` re-exports it as torch's top-level functions.
"""
from . import elementwise, index, linalg, reduce, shape
from .elementwise import *  # noqa: F401,F403
from .index import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .reduce import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403

__all__ = elementwise.__all__ + index.__all__ + shape.__all__ + reduce.__all__ + linalg.__all__

# Ops reached as Tensor methods (or through ember.linalg) that have no top-level function in
# ember; tensor.py's method table reads them from here.
from .elementwise.casting import cast, copy_into, fill_like  # noqa: F401,E402
from .elementwise.comparison import greater, greater_equal, less, less_equal  # noqa: F401,E402
from .index import fill_diagonal, getitem, setitem  # noqa: F401,E402
from .linalg import multi_dot  # noqa: F401,E402
from .reduce import vector_norm  # noqa: F401,E402
from .shape import contiguous, expand_as, sum_to_size, unfold, view  # noqa: F401,E402
