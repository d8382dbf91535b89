"""torch.utils.dlpack: tensors exchanged with other array libraries through DLPack (CPU
memory, shared rather than copied)."""
from .._toplevel import from_dlpack, to_dlpack

__all__ = ["from_dlpack", "to_dlpack"]
