"""``torch.backends.mkldnn``: ember does not use oneDNN (not available); its flags are settable
and readable as in PyTorch."""
import sys
import types

from ._flags import BoolFlag, Precision, set_temporarily, with_flags

matmul = Precision("none", ("ieee", "tf32", "bf16", "none"))
conv = Precision("none", ("ieee", "tf32", "bf16", "none"))
rnn = Precision("none", ("ieee", "tf32", "bf16", "none"))
fp32_precision = "none"


def is_available():
    return False


def flags(enabled=False, deterministic=False, allow_tf32=True):
    """Set the oneDNN flags inside a ``with`` block and restore them after it."""
    return set_temporarily(sys.modules[__name__], {
        "enabled": enabled, "deterministic": deterministic, "allow_tf32": allow_tf32})


class _MkldnnFlags(types.ModuleType):
    enabled = BoolFlag(True, "set_enabled_mkldnn")
    deterministic = BoolFlag(False, "set_deterministic_mkldnn")
    allow_tf32 = BoolFlag(True, "set_allow_tf32_onednn")


with_flags(__name__, _MkldnnFlags)
