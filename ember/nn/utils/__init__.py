"""Helpers over a model: gradient clipping, flattening, weight and spectral normalisation,
deliberate BatchNorm and Dropout modes."""
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_  # noqa: F401
from .clip_grad import get_total_norm  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .modes import freeze_batchnorm, mc_dropout, unfreeze_batchnorm, update_bn  # noqa: F401
from .weight_norm import (  # noqa: F401
    remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm)
from . import rnn  # noqa: F401,E402
