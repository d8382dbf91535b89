"""torch.nn.attention: ``sdpa_kernel`` chooses which scaled-dot-product-attention kernels may run
inside a ``with`` block. ember has one kernel (PyTorch's math formulation, which the fused
kernels equal in value), so the choice is recorded in ``torch.backends.cuda``'s switches and
restored afterwards, and computation is unchanged."""
import contextlib

from ...backends.cuda import (  # noqa: F401
    _SDP, SDPAParams, SDPBackend, can_use_efficient_attention, can_use_flash_attention)

__all__ = ["SDPAParams", "SDPBackend", "WARN_FOR_UNFUSED_KERNELS", "can_use_efficient_attention",
           "can_use_flash_attention", "sdpa_kernel"]

WARN_FOR_UNFUSED_KERNELS = False

# ember's switch of each kernel, by PyTorch's backend.
_SWITCHES = {SDPBackend.CUDNN_ATTENTION: "cudnn", SDPBackend.FLASH_ATTENTION: "flash",
             SDPBackend.EFFICIENT_ATTENTION: "mem_efficient", SDPBackend.MATH: "math"}


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Enable exactly ``backends`` (one SDPBackend or a list) inside the block; every switch is
    restored on exit. ``set_priority`` (an order among the enabled kernels) has nothing to
    order in ember."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError(f"Backend must be an instance of SDPBackend or a list of SDPBackend "
                             f"instances, got {type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    saved = dict(_SDP)
    try:
        for backend, switch in _SWITCHES.items():
            _SDP[switch] = backend in backends
        yield {}
    finally:
        _SDP.update(saved)
