"""Elementwise ops, one file per family, each op's Function beside its public wrapper.

Files are layered: _operands (promotion, gradient unbroadcasting, the base classes and the no-grad
fast path) < complex (parts, conjugate, polar form) < arithmetic < everything else (extrema, rounding, exp_log, trigonometric, special,
gamma, comparison, bitwise, casting). Each family's ``__all__`` is the one list of its public names.
"""
from . import (
    arithmetic, bitwise, casting, comparison, exp_log, extrema, gamma, rounding, special,
    trigonometric)
from . import complex as complex_parts  # the module; ``complex`` is its op
from .arithmetic import *  # noqa: F401,F403
from .bitwise import *  # noqa: F401,F403
from .casting import *  # noqa: F401,F403
from .comparison import *  # noqa: F401,F403
from .complex import *  # noqa: F401,F403
from .exp_log import *  # noqa: F401,F403
from .extrema import *  # noqa: F401,F403
from .gamma import *  # noqa: F401,F403
from .rounding import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .trigonometric import *  # noqa: F401,F403

__all__ = (arithmetic.__all__ + bitwise.__all__ + casting.__all__ + comparison.__all__
           + complex_parts.__all__ + exp_log.__all__ + extrema.__all__ + gamma.__all__ + rounding.__all__ + special.__all__
           + trigonometric.__all__)
