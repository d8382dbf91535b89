"""``torch._inductor.config``: settings a script may set or read (``coordinate_descent_tuning``
and the like); none changes what ember computes. The values are PyTorch's defaults."""
import types

coordinate_descent_tuning = False
max_autotune = False
max_autotune_gemm = False
freezing = False
fx_graph_cache = True
epilogue_fusion = True
force_fuse_int_mm_with_mul = False
use_mixed_mm = True
triton = types.SimpleNamespace(unique_kernel_names=True, cudagraphs=False,
                               cudagraph_trees=True)
cpp = types.SimpleNamespace(threads=-1, simdlen=None)
