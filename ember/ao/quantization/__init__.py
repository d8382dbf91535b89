"""torch.ao.quantization (also torch.quantization): dynamic quantization of Linear layers."""
from . import qconfig, quantize  # noqa: F401
from .qconfig import QConfig, default_dynamic_qconfig, float16_dynamic_qconfig  # noqa: F401
from .quantize import (get_default_dynamic_quant_module_mappings,  # noqa: F401
                       propagate_qconfig_, quantize_dynamic)
