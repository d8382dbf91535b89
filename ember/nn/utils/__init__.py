"""Helpers over a model: gradient clipping, flattening, weight and spectral normalisation,
deliberate BatchNorm and Dropout modes."""
import warnings

from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_  # noqa: F401
from .clip_grad import get_total_norm  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .modes import freeze_batchnorm, mc_dropout, unfreeze_batchnorm, update_bn  # noqa: F401
from .fusion import (  # noqa: F401
    fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights)
from .weight_norm import (  # noqa: F401
    remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm)
from . import fusion, parametrizations, parametrize, rnn, stateless  # noqa: F401,E402
from .init import skip_init  # noqa: F401,E402
from .memory_format import (  # noqa: F401,E402
    convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format)


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated spelling of clip_grad_norm_ (PyTorch's FutureWarning)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
