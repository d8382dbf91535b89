"""Reverse-mode automatic differentiation: Function, backward/grad, grad modes, gradcheck.
``ember.autograd.functional`` (jacobian, hessian, vjp, jvp, vhp, hvp) sits above the ops it
stacks results with; ``import ember`` loads it."""
from .anomaly_mode import (  # noqa: F401
    detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly)
from .engine import backward, grad  # noqa: F401
from .function import Function  # noqa: F401
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .graph import GraphStats, graph_stats, saved_bytes  # noqa: F401
from . import profiler  # noqa: F401
from .profiler import DeviceType, ProfilerActivity, ProfilerState  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad, enforce_grad_layout_policy, inference_mode, is_grad_enabled, is_inference_mode_enabled,
    is_multithreading_enabled, is_view_replay_enabled, no_grad, set_grad_enabled,
    set_multithreading_enabled)
from .function import NestedIOFunction, SavedTensor  # noqa: F401
from ..overrides import (  # noqa: F401  (torch.autograd re-exports the protocol's helpers)
    handle_torch_function, has_torch_function, is_tensor_like)


def kineto_available():
    """Whether torch.profiler's Kineto back end is built in: PyTorch's CPU wheels have it, and
    ember's profiler answers its API."""
    return True
from .variable import Variable  # noqa: F401
