"""ember: PyTorch's semantics for autograd, grad modes and module modes, on NumPy."""
from . import _native
_native.install()  # the compiled autograd core, where built for this source
from . import _allocator
_allocator.set_thresholds()
from . import _numpy_errors
_numpy_errors.silence_in_ember()
from . import _dtype
from ._dtype import *  # noqa: F401,F403
from .autograd.grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
    set_grad_enabled)
from ._factories import *  # noqa: F401,F403
from ._random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state)
from .ops import *  # noqa: F401,F403
from . import _tensor_methods  # noqa: F401,E402  (binds Tensor's methods: the one table)
from . import overrides  # noqa: F401,E402  (torch.overrides: the __torch_function__ protocol)
from .overrides import DisableTorchFunction, DisableTorchFunctionSubclass  # noqa: F401,E402
from ._device import device, get_default_device, set_default_device  # noqa: F401
from ._threads import get_num_threads, set_num_threads  # noqa: F401
from . import accelerator, backends, cuda, fft, futures, jit, linalg, mps, sparse, xpu  # noqa: F401
from . import __future__  # noqa: F401,E402  (torch.__future__'s module-conversion switches)
from .cuda import OutOfMemoryError  # noqa: F401
from .backends._determinism import (  # noqa: F401
    are_deterministic_algorithms_enabled, get_deterministic_debug_mode,
    is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode,
    use_deterministic_algorithms)
from .backends._precision import (  # noqa: F401
    get_float32_matmul_precision, set_float32_matmul_precision)
from . import compiler  # noqa: F401
from .compiler import compile  # noqa: F401
from ._layout import (  # noqa: F401
    channels_last, channels_last_3d, contiguous_format, jagged, layout, memory_format,
    preserve_format, sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr, strided)
from .sparse import sparse_coo_tensor, sparse_csr_tensor, spmm  # noqa: F401
from .tensor import Size, Tensor  # noqa: F401
from ._storage import *  # noqa: F401,F403
from ._quantized import quantize_per_tensor  # noqa: F401
from .serialization import load, save  # noqa: F401
from . import nn  # noqa: F401,E402
# ember.autograd.functional stacks Jacobian rows with the ops, so it is loaded once they are.
from .autograd import functional as _autograd_functional  # noqa: F401,E402
from .autograd import forward_ad as _autograd_forward_ad  # noqa: F401,E402
del _autograd_functional, _autograd_forward_ad
# torch's top-level aliases of functional ops whose signatures match nn.functional's.
from .nn.functional import (  # noqa: F401,E402
    alpha_dropout, avg_pool1d, bilinear, celu, conv1d, conv2d, conv3d, conv_tbc, conv_transpose1d,
    conv_transpose2d, cosine_similarity, dropout, feature_alpha_dropout, group_norm, layer_norm,
    max_pool1d, max_pool2d, max_pool3d, native_channel_shuffle, pairwise_distance, pixel_shuffle,
    pixel_unshuffle, prelu, selu, threshold)
from ._toplevel import *  # noqa: F401,F403,E402  (torch's top-level spellings of other functions)
from ._lowrank import lobpcg, pca_lowrank, svd_lowrank  # noqa: F401,E402
from ._aten import *  # noqa: F401,F403,E402  (torch's native-function spellings and *_copy forms)
from ._foreach_ops import *  # noqa: F401,F403,E402  (torch._foreach_add_ and the other list ops)
from ._tensor_methods import numpy_names as _numpy_names  # noqa: E402
for _name, _value in list(globals().items()):  # axis=/keepdims= as in PyTorch: ember.sum(x, axis=1)
    if not _name.startswith("_") and callable(_value) and not isinstance(_value, type):
        globals()[_name] = _numpy_names(_value)
del _name, _value
from . import data, datasets, onnx, optim, testing, utils  # noqa: F401,E402  (onnx imports its package lazily)
from ._tensor_str import get_printoptions, set_printoptions  # noqa: F401,E402
from .autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: F401,E402
from . import amp, cpu, profiler, return_types  # noqa: F401,E402
from .amp import GradScaler, autocast  # noqa: F401,E402
from .amp.autocast_mode import (  # noqa: F401,E402
    autocast_decrement_nesting, autocast_increment_nesting, clear_autocast_cache,
    get_autocast_cpu_dtype, get_autocast_dtype, get_autocast_gpu_dtype, get_autocast_ipu_dtype,
    get_autocast_xla_dtype, is_autocast_cache_enabled, is_autocast_cpu_enabled,
    is_autocast_enabled, is_autocast_ipu_enabled, is_autocast_xla_enabled,
    set_autocast_cache_enabled, set_autocast_cpu_dtype, set_autocast_cpu_enabled,
    set_autocast_dtype, set_autocast_enabled, set_autocast_gpu_dtype, set_autocast_ipu_dtype,
    set_autocast_ipu_enabled, set_autocast_xla_dtype, set_autocast_xla_enabled)
# ember.cuda and ember.cpu sit below everything; their amp modules sit above ember.amp.
import ember.cpu.amp  # noqa: F401,E402
import ember.cuda.amp  # noqa: F401,E402
from .training.mode_checks import ModeWarning, set_mode_checks  # noqa: F401,E402
from .training.mode_checks import register_mode_checks as _register_mode_checks  # noqa: E402
_mode_check_handles = _register_mode_checks()  # ModeWarning, on nn's and optim's global hooks
from .training.modes import evaluating, training_mode  # noqa: F401,E402
# nn and data sit below distributed and never import it: the distributed layer's names in them
# (PyTorch's nn.SyncBatchNorm, nn.parallel.DistributedDataParallel and
# utils.data.DistributedSampler) are attached here.
from .distributed.parallel import DistributedDataParallel as _DistributedDataParallel  # noqa: E402
from .distributed.sampler import DistributedSampler as _DistributedSampler  # noqa: E402
from .distributed.sync_batchnorm import SyncBatchNorm as _SyncBatchNorm  # noqa: E402
nn.SyncBatchNorm = _SyncBatchNorm
nn.parallel.DistributedDataParallel = _DistributedDataParallel
data.DistributedSampler = _DistributedSampler

# The top-level functions take PyTorch's out= (the Tensor methods and ember.ops do not need it).
from . import _out  # noqa: E402
for _name in _out.OUT_NAMES:
    globals()[_name] = _out.accepting_out(globals()[_name], _name)
del _name

bool = _dtype.bool_
float = float32
double = float64
half = float16
long = int64
int = int32
short = int16

__version__ = "0.1.0"


_DISTRIBUTION_OPS = {"_standard_gamma": "gamma", "_standard_gamma_grad": "gamma",
                     "_sample_dirichlet": "dirichlet", "_dirichlet_grad": "dirichlet"}


def __getattr__(name):
    """``ember.func`` (torch.func's transforms), ``ember.vmap`` (torch.vmap, its vmap),
    ``ember.distributions``, ``ember.special``, ``ember.random``, ``ember.multiprocessing``,
    ``ember.ao`` (quantization), ``ember.library`` (custom ops), ``ember.signal`` (windows) and
    ``ember.quasirandom`` (SobolEngine) and ``ember.hub`` load on first use, keeping
    ``import ember`` fast; ``import ember.func`` works as usual. So do torch's private draws
    that distributions' code calls (``torch._standard_gamma``, ``torch._sample_dirichlet``)."""
    if name in ("func", "vmap", "distributions", "special", "random", "multiprocessing", "ao",
                "library", "signal", "quasirandom", "hub"):
        import importlib  # only on that first use: the package is not imported at start-up
        module = importlib.import_module(".func" if name == "vmap" else f".{name}", __name__)
        return module.vmap if name == "vmap" else module
    if name in _DISTRIBUTION_OPS:  # torch._standard_gamma and kin, the distributions' draws
        import importlib
        module = importlib.import_module(f".distributions.{_DISTRIBUTION_OPS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'ember' has no attribute '{name}'")
