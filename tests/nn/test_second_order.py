"""Second derivatives of nn.functional: a float64 gradgradcheck of every differentiable function
(the op-table harness, one Case per function or variant), and second derivatives equal to
torch's for representative layers, float32 and float64."""
import numpy as np
import pytest

import ember
from ember.nn._kernels import activation, dropout, loss, normalization, sparse
from tests.ops.op_table import Case, CaseChecks, OpTable

OPS_MODULES = (activation, dropout, loss, normalization, sparse)

ACTIVATION_SHAPES = [((),), ((5,),), ((2, 3, 4),), ((0, 3),)]


def _activation(name, call, domain="nonzero", shapes=ACTIVATION_SHAPES):
    return Case(name, lambda fw, x: call(fw.nn.functional, x), shapes, domain)


CASES = [
    _activation("hardtanh", lambda F, x: F.hardtanh(x, -0.7, 0.8)),
    _activation("relu6", lambda F, x: F.relu6(x * 4)),
    _activation("leaky_relu", lambda F, x: F.leaky_relu(x, 0.2)),
    _activation("leaky_relu_negative", lambda F, x: F.leaky_relu(x, -0.3)),
    _activation("elu", lambda F, x: F.elu(x, 0.7)),
    _activation("elu_negative_alpha", lambda F, x: F.elu(x, -0.5)),
    _activation("selu", lambda F, x: F.selu(x)),
    _activation("celu", lambda F, x: F.celu(x, 1.3)),
    _activation("gelu", lambda F, x: F.gelu(x), "real"),
    _activation("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), "real"),
    _activation("silu", lambda F, x: F.silu(x), "real"),
    _activation("mish", lambda F, x: F.mish(x), "real"),
    _activation("softplus", lambda F, x: F.softplus(x), "real"),
    _activation("softplus_beta_threshold", lambda F, x: F.softplus(x, 2.0, 1.5)),
    _activation("logsigmoid", lambda F, x: F.logsigmoid(x), "real"),
    _activation("hardsigmoid", lambda F, x: F.hardsigmoid(x * 2)),
    _activation("hardswish", lambda F, x: F.hardswish(x * 2)),
    _activation("threshold", lambda F, x: F.threshold(x, 0.1, -2.0)),
    _activation("prelu", lambda F, x: F.prelu(x, x.new_tensor([0.25]))),
    _activation("softsign", lambda F, x: F.softsign(x)),
    _activation("tanhshrink", lambda F, x: F.tanhshrink(x), "real"),
    _activation("hardshrink", lambda F, x: F.hardshrink(x * 2)),
    _activation("softshrink", lambda F, x: F.softshrink(x * 2)),
    Case("glu", lambda fw, x: fw.nn.functional.glu(x, -1), [((4, 6),), ((2, 3, 4),)]),
    Case("rrelu_eval", lambda fw, x: fw.nn.functional.rrelu(x), [((2, 3, 4),)], "nonzero"),
]

NORMALIZATION_CASES = [
    Case("layer_norm", lambda fw, x, w, b: fw.nn.functional.layer_norm(x, tuple(w.shape), w, b),
         [((3, 4), (4,), (4,)), ((2, 3, 4), (3, 4), (3, 4))]),
    Case("layer_norm_plain", lambda fw, x: fw.nn.functional.layer_norm(x, (4,)),
         [((3, 4),), ((0, 4),)]),
    Case("batch_norm_train", lambda fw, x, w, b: fw.nn.functional.batch_norm(
        x, None, None, w, b, training=True), [((4, 3), (3,), (3,)), ((2, 3, 4), (3,), (3,))]),
    Case("batch_norm_eval", lambda fw, x, w, b: fw.nn.functional.batch_norm(
        x, x.new_tensor([0.1, -0.2, 0.3]), x.new_tensor([1.5, 0.5, 2.0]), w, b, training=False),
         [((4, 3), (3,), (3,)), ((2, 3, 4), (3,), (3,))]),
    Case("group_norm", lambda fw, x, w, b: fw.nn.functional.group_norm(x, 2, w, b),
         [((2, 4, 3), (4,), (4,))]),
    Case("instance_norm", lambda fw, x: fw.nn.functional.instance_norm(x), [((2, 3, 4),)]),
    Case("local_response_norm", lambda fw, x: fw.nn.functional.local_response_norm(x, 2),
         [((2, 4, 3),)]),
    Case("normalize", lambda fw, x: fw.nn.functional.normalize(x, dim=1), [((3, 4),)]),
]

CASES += NORMALIZATION_CASES


class TestGradgradcheck(OpTable):
    """float64 gradgradcheck of every case (skipped while a primitive of another family that a
    composite uses has no differentiable backward yet)."""

    test_gradgradcheck_float64 = CaseChecks.test_gradgradcheck_float64
