"""The op-table harness: one table per family of ops drives every check of every op in it.

A test module lists its family's tables, and its test class picks the checks they get:

* ``CASES``: one ``Case`` per op (or op variant): a callable ``fn(fw, *tensors)`` that works
  unchanged with ``fw=ember`` and ``fw=torch``, the input shapes (including ``()``, broadcasting
  pairs and zero-size dims), an input domain and tolerances. ``CaseChecks`` runs, per case and
  shape set: the forward against NumPy (when the case gives a reference) with float32 in ->
  float32 out and float32 gradients of the inputs' shapes; a float64 gradcheck; and the forward
  values and dtypes and the backward gradients against torch's. ``GradGradChecks`` adds the float64
  gradgradcheck (second derivatives, through create_graph) for families whose backward is
  differentiable.
* ``BAD_INPUTS``: ``name -> fn(fw)`` that must raise; ``BadInputChecks`` checks that ember raises
  the exception type torch raises.
* ``VALUES``: ``name -> fn(fw)`` whose results (tensors or plain values) must equal torch's in
  value and dtype: mixed-type promotion, integer inputs, edge values; ``ValueChecks`` checks it.

The torch comparisons skip cleanly when torch is not installed (the ``torch`` fixture).
"""
import re
import zlib

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck


# ---- input domains ------------------------------------------------------------------------------
def _real(rng, shape):
    return rng.uniform(-2.0, 2.0, shape)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def _nonzero(rng, shape):
    """Away from 0, where abs/relu/division have kinks or poles."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)


def _unit(rng, shape):
    """Inside (-1, 1), away from the ends, where asin/acos have poles in their derivative."""
    return rng.uniform(-0.9, 0.9, shape)


def _ties(rng, shape):
    """Small integers as floats: many equal values (max/min tie semantics)."""
    return rng.integers(0, 3, shape).astype(np.float64)


def _distinct(rng, shape):
    """A permutation scaled to floats: no ties, so sort/topk/median indices are unique."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2) * 0.25


def _with_zeros(rng, shape):
    values = np.asarray(rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape))
    values[np.asarray(rng.random(shape) < 0.3)] = 0.0
    return values


def _with_neg_inf(rng, shape):
    values = _real(rng, shape)
    values[..., 0] = -np.inf
    return values


def _all_neg_inf_row(rng, shape):
    values = _real(rng, shape)
    values[0] = -np.inf
    return values


def _integers(rng, shape):
    return rng.integers(0, 3, shape)


# Domains named ``index*`` make int64 inputs, which never require grad.
_DOMAINS = {"real": _real, "positive": _positive, "nonzero": _nonzero, "unit": _unit,
            "ties": _ties, "distinct": _distinct, "with_zeros": _with_zeros,
            "neg_inf": _with_neg_inf, "neg_inf_row": _all_neg_inf_row, "index3": _integers}


class Case:
    """One op: ``fn(fw, *inputs)``; ``shapes`` is a list of shape tuples, one per input;
    ``domain`` is one name or one per input. ``numpy`` is a NumPy reference of the forward,
    ``grad`` whether gradients are compared at all, ``check_grad`` the float64 gradcheck,
    ``check_gradgrad`` the float64 gradgradcheck (by default with the gradcheck), ``torch_grad``
    the comparison of gradients with torch's, ``float32_out`` whether floating outputs must be
    float32."""

    def __init__(self, name, fn, shapes, domain="real", numpy=None, grad=True, check_grad=True,
                 torch_grad=True, float32_out=True, atol=1e-6, rtol=1e-5, grad_atol=1e-5,
                 grad_rtol=1e-5, check_gradgrad=None):
        self.name = name
        self.fn = fn
        self.shapes = shapes
        self.domain = domain
        self.numpy = numpy
        self.grad = grad
        self.check_grad = check_grad and grad
        self.check_gradgrad = self.check_grad if check_gradgrad is None else check_gradgrad
        self.torch_grad = torch_grad and grad
        self.float32_out = float32_out
        self.atol = atol
        self.rtol = rtol
        self.grad_atol = grad_atol
        self.grad_rtol = grad_rtol

    def arrays(self, shapes, dtype=np.float32):
        rng = np.random.default_rng(zlib.crc32(f"{self.name}{shapes}".encode()))
        domains = self.domain if isinstance(self.domain, tuple) else (self.domain,) * len(shapes)
        return [np.asarray(_DOMAINS[domain](rng, shape),
                           np.int64 if domain.startswith("index") else dtype)
                for domain, shape in zip(domains, shapes)]


# ---- shape sets ---------------------------------------------------------------------------------
UNARY = [((),), ((5,),), ((2, 3, 4),), ((0, 3),)]
BINARY = [((), ()), ((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (2, 3, 4)), ((2, 3), ())]
# BINARY, and a 0-d left operand against a matrix, and a zero-size batch against a row.
BINARY_SHAPES = BINARY + [((), (2, 3)), ((0, 3), (3,))]
REDUCE = [((3, 4),), ((2, 3, 4),)]
MATRIX = [((3, 4),), ((4, 4),), ((2, 3, 4),)]
INPLACE = [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((2, 3), ())]


# ---- the checks ---------------------------------------------------------------------------------
def _case_parameters(cases):
    return [pytest.param(case, shapes, id=f"{case.name}-{'-'.join(map(str, shapes))}")
            for case in cases for shapes in case.shapes]


def as_tuple(result):
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def _leaves(module, arrays, requires_grad):
    return [module.tensor(array, requires_grad=requires_grad and array.dtype.kind == "f")
            for array in arrays]


def dtype_name(dtype):
    """'float32' for ember.float32 and torch.float32 alike."""
    return str(dtype).split(".")[-1]


class OpTable:
    """Parametrizes the checks below from the test module's CASES, BAD_INPUTS and VALUES."""

    def pytest_generate_tests(self, metafunc):
        module = metafunc.module
        test = metafunc.function.__name__
        if test in ("test_forward_float32_and_numpy", "test_matches_torch"):
            metafunc.parametrize("case, shapes", _case_parameters(module.CASES))
        elif test == "test_gradcheck_float64":
            metafunc.parametrize("case, shapes",
                                 _case_parameters([case for case in module.CASES
                                                   if case.check_grad]))
        elif test == "test_gradgradcheck_float64":
            metafunc.parametrize("case, shapes",
                                 _case_parameters([case for case in module.CASES
                                                   if case.check_gradgrad]))
        elif test == "test_bad_input_raises_torch_exception_type":
            metafunc.parametrize("name", sorted(module.BAD_INPUTS))
        elif test == "test_values_and_dtypes_match_torch":
            metafunc.parametrize("name", sorted(module.VALUES))


# Ops of other families whose double backward is being written on their own branches: a
# gradgradcheck that reaches one of them is skipped, naming it. Empty this set as they land.
PENDING_DOUBLE_BACKWARD = {"Cast", "Clone", "Expand", "Lerp", "Permute", "Reshape", "Sqrt"}


def _skip_if_pending(error):
    match = re.match(r"(\w+)Backward0: double backward \(create_graph=True\) is not implemented",
                     str(error))
    if match and match.group(1) in PENDING_DOUBLE_BACKWARD:
        pytest.skip(f"needs {match.group(1)}'s double backward (another family's branch)")


class CaseChecks(OpTable):
    """The three checks of every op in CASES."""

    def test_forward_float32_and_numpy(self, case, shapes):
        arrays = case.arrays(shapes)
        inputs = _leaves(ember, arrays, case.grad)
        outputs = as_tuple(case.fn(ember, *inputs))
        for output in outputs:
            if output.is_floating_point() and case.float32_out:
                assert output.dtype is ember.float32, f"{case.name}: output dtype {output.dtype}"
        if case.numpy is not None:
            expected = np.asarray(case.numpy(*arrays))
            np.testing.assert_allclose(outputs[0].detach().numpy(), expected, rtol=case.rtol,
                                       atol=case.atol)
        differentiable = [output for output in outputs if output.requires_grad]
        if not case.grad or not differentiable:
            return
        ember.autograd.backward(differentiable, [ember.ones_like(output) for output in
                                                 differentiable])
        for leaf in inputs:
            if leaf.grad is not None:
                assert leaf.grad.dtype is ember.float32
                assert leaf.grad.shape == leaf.shape

    def test_gradcheck_float64(self, case, shapes):
        inputs = _leaves(ember, case.arrays(shapes, dtype=np.float64), True)

        def function(*tensors):
            return tuple(output for output in as_tuple(case.fn(ember, *tensors))
                         if output.is_floating_point())

        assert gradcheck(function, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)

    def test_matches_torch(self, case, shapes, torch):
        arrays = case.arrays(shapes)
        ember_inputs = _leaves(ember, arrays, case.torch_grad)
        torch_inputs = _leaves(torch, arrays, case.torch_grad)
        ember_outputs = as_tuple(case.fn(ember, *ember_inputs))
        torch_outputs = as_tuple(case.fn(torch, *torch_inputs))
        assert len(ember_outputs) == len(torch_outputs)
        for ember_output, torch_output in zip(ember_outputs, torch_outputs):
            assert dtype_name(ember_output.dtype) == dtype_name(torch_output.dtype)
            assert tuple(ember_output.shape) == tuple(torch_output.shape)
            np.testing.assert_allclose(ember_output.detach().numpy(),
                                       torch_output.detach().numpy(), rtol=case.rtol,
                                       atol=case.atol)
            assert ember_output.requires_grad == torch_output.requires_grad
        pairs = [(ours, theirs) for ours, theirs in zip(ember_outputs, torch_outputs)
                 if theirs.requires_grad]
        if not case.torch_grad or not pairs:
            return
        rng = np.random.default_rng(1)
        weights = [rng.standard_normal(tuple(theirs.shape)).astype(np.float32)
                   for _, theirs in pairs]
        ember.autograd.backward([ours for ours, _ in pairs], [ember.tensor(w) for w in weights])
        torch.autograd.backward([theirs for _, theirs in pairs],
                                [torch.tensor(w) for w in weights])
        for ember_input, torch_input in zip(ember_inputs, torch_inputs):
            if torch_input.grad is None:
                assert ember_input.grad is None or not np.any(ember_input.grad.numpy())
                continue
            assert ember_input.grad is not None, f"{case.name}: ember gave no gradient"
            assert dtype_name(ember_input.grad.dtype) == dtype_name(torch_input.grad.dtype)
            np.testing.assert_allclose(ember_input.grad.numpy(), torch_input.grad.numpy(),
                                       rtol=case.grad_rtol, atol=case.grad_atol)


class GradGradChecks(OpTable):
    """The float64 gradgradcheck of every op in CASES whose backward is differentiable."""

    def test_gradgradcheck_float64(self, case, shapes):
        inputs = _leaves(ember, case.arrays(shapes, dtype=np.float64), True)

        def function(*tensors):
            return tuple(output for output in as_tuple(case.fn(ember, *tensors))
                         if output.is_floating_point())

        try:
            assert gradgradcheck(function, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
        except RuntimeError as error:
            _skip_if_pending(error)
            raise


class BadInputChecks(OpTable):
    """ember raises the exception type torch raises for every entry of BAD_INPUTS."""

    def test_bad_input_raises_torch_exception_type(self, name, torch, request):
        make = request.module.BAD_INPUTS[name]
        with pytest.raises(Exception) as torch_error:
            make(torch)
        expected = torch_error.type
        with pytest.raises(Exception) as ember_error:
            make(ember)
        # torch's own exception classes (torch.OutOfMemoryError, ...) derive from builtin ones.
        builtin = next(base for base in expected.__mro__ if base.__module__ == "builtins")
        assert issubclass(ember_error.type, builtin), \
            f"{name}: ember raised {ember_error.type.__name__}: {ember_error.value}; torch " \
            f"raised {expected.__name__}: {torch_error.value}"


class ValueChecks(OpTable):
    """Every entry of VALUES gives torch's values and dtypes."""

    def test_values_and_dtypes_match_torch(self, name, torch, request):
        make = request.module.VALUES[name]
        ember_result = as_tuple(make(ember))
        torch_result = as_tuple(make(torch))
        assert len(ember_result) == len(torch_result)
        for ember_value, torch_value in zip(ember_result, torch_result):
            if not isinstance(torch_value, torch.Tensor):
                assert ember_value == torch_value
                continue
            assert dtype_name(ember_value.dtype) == dtype_name(torch_value.dtype)
            if torch_value.is_floating_point():
                np.testing.assert_allclose(ember_value.numpy(), torch_value.numpy(), rtol=1e-6)
            else:
                np.testing.assert_array_equal(ember_value.numpy(), torch_value.numpy())


def ints(fw, dtype="int64"):
    """[1, 2, 3] as a tensor of ``dtype``: the integer operand of the dtype tables."""
    return fw.tensor([1, 2, 3], dtype=getattr(fw, dtype))
