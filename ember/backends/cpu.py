"""``torch.backends.cpu``: the vector instructions that ember's kernels (NumPy's) use."""
import numpy as np


def get_cpu_capability():
    """PyTorch's name of the widest x86 vector extension in use: 'AVX512', 'AVX2' or
    'DEFAULT' (as on other processors)."""
    core = getattr(np, "_core", None)
    features = getattr(getattr(core, "_multiarray_umath", None), "__cpu_features__", {})
    if all(features.get(name) for name in ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")):
        return "AVX512"
    if features.get("AVX2"):
        return "AVX2"
    return "DEFAULT"
