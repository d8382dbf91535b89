"""ember.ops.elementwise.rounding: floor, ceil, round, trunc, frac, nan_to_num and fake
quantization."""
import numpy as np

from ..op_table import (
    BadInputChecks, Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("floor", lambda fw, a: a.floor(), UNARY, numpy=np.floor, check_grad=False),
    Case("ceil", lambda fw, a: a.ceil(), UNARY, check_grad=False),
    Case("round", lambda fw, a: a.round(), UNARY, check_grad=False),
    Case("round_decimals", lambda fw, a: a.round(decimals=2), UNARY, check_grad=False),
    Case("trunc", lambda fw, a: a.trunc(), UNARY, check_grad=False),
    Case("nan_to_num", lambda fw, a: fw.nan_to_num(a.masked_fill(a > 1, float("nan")), 0.5),
         UNARY[1:]),
    Case("nan_to_num_inf", lambda fw, a: (a.masked_fill(a > 1, float("inf"))
                                          .masked_fill(a < -1, -float("inf")).nan_to_num()),
         UNARY[1:3], check_grad=False),
    # log gives NaN below 0: non-finite entries without masked_fill.
    Case("nan_to_num_log", lambda fw, a: fw.nan_to_num(fw.log(a), 0.5), UNARY),
    Case("frac", lambda fw, a: fw.frac(a * 3), UNARY),
    # Piecewise constant with a straight-through gradient: no gradcheck, torch's gradients.
    Case("fake_quantize_per_tensor", lambda fw, a: fw.fake_quantize_per_tensor_affine(
        a * 3, 0.25, 1, -4, 3), UNARY, check_grad=False),
    Case("fake_quantize_per_tensor_qparams", lambda fw, a: fw.fake_quantize_per_tensor_affine(
        a, fw.tensor(0.3), fw.tensor(-2, dtype=fw.int32), -8, 7), UNARY, check_grad=False),
    Case("fake_quantize_per_channel", lambda fw, a: fw.fake_quantize_per_channel_affine(
        a * 3, fw.linspace(0.1, 0.7, a.shape[-1]), fw.arange(a.shape[-1], dtype=fw.int32) - 1,
        a.dim() - 1, -4, 3), UNARY[1:3], check_grad=False),
    Case("fake_quantize_per_channel_float_zero_point", lambda fw, a:
         fw.fake_quantize_per_channel_affine(a * 3, fw.linspace(0.1, 0.7, a.shape[0]),
                                             fw.linspace(-1.25, 1.5, a.shape[0]), 0, -4, 3),
         UNARY[1:3], check_grad=False),
]


def _per_channel(fw, input=None, scale=None, zero_point=None, axis=0, low=-4, high=3):
    """fake_quantize_per_channel_affine on a 3 x 4 input with one argument changed."""
    return fw.fake_quantize_per_channel_affine(
        fw.ones(3, 4) if input is None else input, fw.ones(3) if scale is None else scale,
        fw.zeros(3, dtype=fw.int32) if zero_point is None else zero_point, axis, low, high)


BAD_INPUTS = {
    "frac_int": lambda fw: fw.frac(fw.tensor([1, 2])),
    "fake_quantize_range": lambda fw: fw.fake_quantize_per_tensor_affine(fw.ones(2), 0.1, 0, 3,
                                                                         -4),
    "fake_quantize_zero_point": lambda fw: fw.fake_quantize_per_tensor_affine(fw.ones(2), 0.1,
                                                                              5, -4, 3),
    "fake_quantize_int": lambda fw: fw.fake_quantize_per_tensor_affine(fw.ones(2).long(), 0.1,
                                                                       0, -4, 3),
    "fake_quantize_two_scales": lambda fw: fw.fake_quantize_per_tensor_affine(
        fw.ones(2), fw.ones(2), fw.zeros(2, dtype=fw.int32), -4, 3),
    "per_channel_long_zero_point": lambda fw: _per_channel(fw, zero_point=fw.zeros(3).long()),
    "per_channel_double_scale": lambda fw: _per_channel(fw, scale=fw.ones(3).double()),
    "per_channel_2d_scale": lambda fw: _per_channel(fw, scale=fw.ones(3, 1),
                                                    zero_point=fw.zeros(3, 1, dtype=fw.int32)),
    "per_channel_sizes": lambda fw: _per_channel(fw, zero_point=fw.zeros(4, dtype=fw.int32)),
    "per_channel_channels": lambda fw: _per_channel(fw, axis=1),
    "per_channel_negative_axis": lambda fw: _per_channel(fw, scale=fw.ones(4),
                                                         zero_point=fw.zeros(4, dtype=fw.int32),
                                                         axis=-1),
    "per_channel_axis_range": lambda fw: _per_channel(fw, axis=2),
    "per_channel_zero_point_range": lambda fw: _per_channel(
        fw, zero_point=fw.full((3,), 5, dtype=fw.int32)),
    "per_channel_int": lambda fw: _per_channel(fw, input=fw.ones(3, 4).long()),
    "per_channel_0d": lambda fw: _per_channel(fw, input=fw.tensor(1.0), scale=fw.ones(1),
                                              zero_point=fw.zeros(1, dtype=fw.int32)),
}


MESSAGES = {
    "fake_quantize_range": "`quant_min` should be less than or",
    "fake_quantize_zero_point": "`zero_point` must be between `quant_min` and `quant_max`.",
    "fake_quantize_int": '"fake_quantize_tensor_cachemask_kernel_type_handling" not implemented '
                         "for 'Long'",
    "fake_quantize_two_scales": "a Tensor with 2 elements cannot be converted to Scalar",
    "per_channel_long_zero_point": "Zero-point must be Int32, Float or Half, found Long",
    "per_channel_double_scale": "Scale must be Float or BFloat16, found Double",
    "per_channel_2d_scale": "scale should be a 1-D tensor",
    "per_channel_sizes": "scale and zero-point need to have the same dimensions",
    "per_channel_channels": "dimensions of scale and zero-point are not consistent with input "
                            "tensor",
    "per_channel_negative_axis": "`axis` must be between 0 and number of dimensions of input",
    "per_channel_axis_range": "Dimension out of range (expected to be in range of [-2, 1], but "
                              "got 2)",
    "per_channel_zero_point_range": "`zero_point` must be between `quant_min` and `quant_max`.",
    "per_channel_int": '"fake_quantize_channel_cachemask_cpu_type_handling" not implemented for '
                       "'Long'",
    "per_channel_0d": "Dimension specified as 0 but tensor has no dimensions",
}


VALUES = {
    "nan_to_num_int": lambda fw: fw.nan_to_num(fw.tensor([1, 2])),
    # NaN and infinities clamp to the ends; ties round to even; float64 keeps PyTorch's float32
    # rounding of the per-tensor result, and its exact per-channel products.
    "fake_quantize_specials": lambda fw: fw.fake_quantize_per_tensor_affine(
        fw.tensor([float("nan"), float("inf"), -float("inf"), 0.125, 0.375, -0.625]), 0.25, 0,
        -3, 3),
    "fake_quantize_float64": lambda fw: fw.fake_quantize_per_tensor_affine(
        fw.linspace(-1, 1, 9, dtype=fw.float64), 0.1, 1, -8, 7),
    "fake_quantize_per_channel_float64": lambda fw: fw.fake_quantize_per_channel_affine(
        fw.linspace(-1, 1, 12, dtype=fw.float64).view(3, 4), fw.tensor([0.1, 0.3, 0.7]),
        fw.tensor([0, 1, -1], dtype=fw.int32), 0, -8, 7),
    "fake_quantize_bfloat16": lambda fw: (lambda out: (out.float(), out.dtype.itemsize))(
        fw.fake_quantize_per_tensor_affine(fw.linspace(-1, 1, 9).bfloat16(), 0.1, 0, -8, 7)),
    "fake_quantize_zero_scale": lambda fw: fw.fake_quantize_per_tensor_affine(
        fw.tensor([-1.0, 0.0, 2.0]), 0.0, 0, -3, 3),
}


class TestRounding(CaseChecks, SecondDerivativeChecks, HalfChecks, BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""
