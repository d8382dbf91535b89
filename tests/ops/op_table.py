"""The op-table harness: one table per family of ops drives every check of every op in it.

A test module lists its family's tables, and its test class picks the checks they get:

* ``CASES``: one ``Case`` per op (or op variant): a callable ``fn(fw, *tensors)`` that works
  unchanged with ``fw=ember`` and ``fw=torch``, the input shapes (including ``()``, broadcasting
  pairs and zero-size dims), an input domain and tolerances. ``CaseChecks`` runs, per case and
  shape set: the forward against NumPy (when the case gives a reference) with float32 in ->
  float32 out and float32 gradients of the inputs' shapes; a float64 gradcheck; a float64
  gradgradcheck in the modules whose family has differentiable backwards (they list their op
  modules in ``OPS_MODULES``); and the forward values and dtypes and the backward gradients
  against torch's.
* ``SecondDerivativeChecks`` compares, per case and shape set, the second derivatives with torch's
  in float32 and float64; ``HalfChecks`` runs the case in float16 against torch (values, dtypes
  and gradients within float16's precision).
* ``BAD_INPUTS``: ``name -> fn(fw)`` that must raise; ``BadInputChecks`` checks that ember raises
  the exception type torch raises, and for the names in ``MESSAGES`` that both messages contain
  torch's text given there.
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
    ``torch_grad`` the comparison of gradients with torch's, ``float32_out`` whether floating
    outputs must be float32. ``check_gradgrad`` and ``torch_gradgrad`` are the same two checks
    for second derivatives (default: as for the first), ``torch_gradgrad_dtypes`` the dtypes in
    which they are compared with torch's, ``half`` the float16 comparison with torch,
    ``half_tolerance`` its (rtol, atol)."""

    def __init__(self, name, fn, shapes, domain="real", numpy=None, grad=True, check_grad=True,
                 torch_grad=True, float32_out=True, atol=1e-6, rtol=1e-5, grad_atol=1e-5,
                 grad_rtol=1e-5, check_gradgrad=None, torch_gradgrad=None,
                 torch_gradgrad_dtypes=("float32", "float64"), half=True,
                 half_tolerance=(4e-3, 1e-3)):
        self.name = name
        self.fn = fn
        self.shapes = shapes
        self.domain = domain
        self.numpy = numpy
        self.grad = grad
        self.check_grad = check_grad and grad
        self.torch_grad = torch_grad and grad
        self.float32_out = float32_out
        self.atol = atol
        self.rtol = rtol
        self.grad_atol = grad_atol
        self.grad_rtol = grad_rtol
        self.check_gradgrad = self.check_grad if check_gradgrad is None else check_gradgrad
        self.torch_gradgrad = self.torch_grad if torch_gradgrad is None else torch_gradgrad
        self.torch_gradgrad_dtypes = torch_gradgrad_dtypes
        self.half = half
        self.half_tolerance = half_tolerance

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
            converted = hasattr(module, "OPS_MODULES")
            metafunc.parametrize("case, shapes",
                                 _case_parameters([case for case in module.CASES
                                                   if case.check_gradgrad and converted]))
        elif test == "test_second_derivatives_match_torch":
            metafunc.parametrize("case, shapes, dtype", [
                pytest.param(case, shapes, dtype,
                             id=f"{case.name}-{'-'.join(map(str, shapes))}-{dtype}")
                for case in module.CASES if case.torch_gradgrad
                for shapes in case.shapes for dtype in case.torch_gradgrad_dtypes])
        elif test == "test_float16_matches_torch":
            metafunc.parametrize("case, shapes",
                                 _case_parameters([case for case in module.CASES if case.half]))
        elif test == "test_bad_input_raises_torch_exception_type":
            metafunc.parametrize("name", sorted(module.BAD_INPUTS))
        elif test == "test_values_and_dtypes_match_torch":
            metafunc.parametrize("name", sorted(module.VALUES))


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

    def test_gradgradcheck_float64(self, case, shapes, request):
        inputs = _leaves(ember, case.arrays(shapes, dtype=np.float64), True)

        def function(*tensors):
            return tuple(output for output in as_tuple(case.fn(ember, *tensors))
                         if output.is_floating_point())

        try:
            assert gradgradcheck(function, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
        except RuntimeError as error:
            skip_while_another_family_waits(error, request.module)
            raise

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


_NOT_DIFFERENTIABLE = re.compile(r"^(?:.*::)?(\w+?)(?:Backward0)?: double backward "
                                 r"\(create_graph=True\) is not implemented")


def skip_while_another_family_waits(error, test_module):
    """Skip when ``error`` says an op has no differentiable backward yet and that op belongs to
    another family than the test module's own (its ``OPS_MODULES``): its owner converts it."""
    match = _NOT_DIFFERENTIABLE.match(str(error))
    if match is None:
        return
    name = match.group(1)
    own = getattr(test_module, "OPS_MODULES", ())
    if any(getattr(getattr(module, name, None), "__module__", None) == module.__name__
           for module in own):
        return
    pytest.skip(f"waits for {name}'s differentiable backward (another family)")


def _floating_outputs(case, framework, inputs):
    return tuple(output for output in as_tuple(case.fn(framework, *inputs))
                 if output.is_floating_point())


class SecondDerivativeChecks(OpTable):
    """Second derivatives of every op in CASES equal torch's in float32 and float64: the
    gradients of random combinations of the first derivatives, taken with create_graph."""

    def test_second_derivatives_match_torch(self, case, shapes, dtype, torch, request):
        arrays = case.arrays(shapes, dtype=np.dtype(dtype))
        results = []
        for framework in (ember, torch):
            inputs = _leaves(framework, arrays, True)
            outputs = [output for output in _floating_outputs(case, framework, inputs)
                       if output.requires_grad]
            leaves = [leaf for leaf in inputs if leaf.requires_grad]
            try:
                results.append(_second_derivatives(framework, outputs, leaves))
            except RuntimeError as error:
                skip_while_another_family_waits(error, request.module)
                raise
        rtol, atol = (case.grad_rtol, case.grad_atol) if dtype == "float32" else (1e-10, 1e-10)
        for name, mine, theirs in zip(("first", "second"), *results):
            for index, (ours, reference) in enumerate(zip(mine, theirs)):
                np.testing.assert_allclose(
                    ours, reference, rtol=rtol, atol=atol,
                    err_msg=f"{case.name}: {name} derivative, input {index}")


def _second_derivatives(framework, outputs, leaves):
    """(first, second) derivatives as float64 arrays, zeros where nothing depends: the first of
    random combinations of the outputs, the second of random combinations of the first."""
    rng = np.random.default_rng(2)
    if not outputs or not leaves:
        return (), ()
    weights = [framework.tensor(rng.uniform(-1.0, 1.0, tuple(output.shape)),
                                dtype=output.dtype) for output in outputs]
    first = framework.autograd.grad(outputs, leaves, weights, create_graph=True,
                                    allow_unused=True)
    first = [framework.zeros_like(leaf) if grad is None else grad
             for grad, leaf in zip(first, leaves)]
    recorded = [grad for grad in first if grad.requires_grad]
    second = [None] * len(leaves)
    if recorded:
        total = sum((grad * framework.tensor(rng.uniform(-1.0, 1.0, tuple(grad.shape)),
                                             dtype=grad.dtype)).sum() for grad in recorded)
        second = framework.autograd.grad(total, leaves, allow_unused=True)
    # force=True: torch hands out some zero gradients as ZeroTensors (abs's second derivative).
    return ([grad.detach().numpy(force=True).astype(np.float64) for grad in first],
            [np.zeros(tuple(leaf.shape)) if grad is None else
             grad.detach().numpy(force=True).astype(np.float64)
             for grad, leaf in zip(second, leaves)])


class HalfChecks(OpTable):
    """float16 in every op of CASES where torch takes it on CPU: torch's dtypes, and its values
    and gradients within float16's precision (torch computes many in float32 and rounds once)."""

    def test_float16_matches_torch(self, case, shapes, torch):
        arrays = case.arrays(shapes, dtype=np.float16)
        rtol, atol = case.half_tolerance
        ember_inputs = _leaves(ember, arrays, case.torch_grad)
        torch_inputs = _leaves(torch, arrays, case.torch_grad)
        try:
            torch_outputs = as_tuple(case.fn(torch, *torch_inputs))
        except Exception as error:  # float16 is refused on CPU: so is it by ember
            with pytest.raises(builtin_type(type(error))):
                case.fn(ember, *ember_inputs)
            return
        ember_outputs = as_tuple(case.fn(ember, *ember_inputs))
        assert len(ember_outputs) == len(torch_outputs)
        for ours, theirs in zip(ember_outputs, torch_outputs):
            assert dtype_name(ours.dtype) == dtype_name(theirs.dtype)
            np.testing.assert_allclose(ours.detach().numpy().astype(np.float64),
                                       theirs.detach().numpy().astype(np.float64), rtol=rtol,
                                       atol=atol, err_msg=f"{case.name}: float16 values")
        pairs = [(ours, theirs) for ours, theirs in zip(ember_outputs, torch_outputs)
                 if theirs.requires_grad]
        if not case.torch_grad or not pairs:
            return
        rng = np.random.default_rng(1)
        weights = [rng.uniform(-1.0, 1.0, tuple(theirs.shape)).astype(np.float16)
                   for _, theirs in pairs]
        ember.autograd.backward([ours for ours, _ in pairs],
                                [ember.tensor(weight).to(ours.dtype)
                                 for weight, (ours, _) in zip(weights, pairs)])
        torch.autograd.backward([theirs for _, theirs in pairs],
                                [torch.tensor(weight).to(theirs.dtype)
                                 for weight, (_, theirs) in zip(weights, pairs)])
        for ember_input, torch_input in zip(ember_inputs, torch_inputs):
            if torch_input.grad is None:
                continue
            assert dtype_name(ember_input.grad.dtype) == dtype_name(torch_input.grad.dtype)
            np.testing.assert_allclose(ember_input.grad.numpy().astype(np.float64),
                                       torch_input.grad.numpy().astype(np.float64), rtol=rtol,
                                       atol=atol, err_msg=f"{case.name}: float16 gradients")


class BadInputChecks(OpTable):
    """ember raises the exception type torch raises for every entry of BAD_INPUTS; for those in
    the module's MESSAGES (name -> torch's message) both messages contain it (ember's also names
    the op)."""

    def test_bad_input_raises_torch_exception_type(self, name, torch, request):
        make = request.module.BAD_INPUTS[name]
        with pytest.raises(Exception) as torch_error:
            make(torch)
        expected = torch_error.type
        with pytest.raises(Exception) as ember_error:
            make(ember)
        builtin = builtin_type(expected)
        assert issubclass(ember_error.type, builtin), \
            f"{name}: ember raised {ember_error.type.__name__}: {ember_error.value}; torch " \
            f"raised {expected.__name__}: {torch_error.value}"
        message = getattr(request.module, "MESSAGES", {}).get(name)
        if message is not None:
            assert message in str(torch_error.value), f"{name}: torch says {torch_error.value}"
            assert message in str(ember_error.value), f"{name}: ember says {ember_error.value}"


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


def builtin_type(error_type):
    """The builtin exception class that one of torch's (torch.OutOfMemoryError, ...) derives
    from: what ember raises in its place."""
    return next(base for base in error_type.__mro__ if base.__module__ == "builtins")


def ints(fw, dtype="int64"):
    """[1, 2, 3] as a tensor of ``dtype``: the integer operand of the dtype tables."""
    return fw.tensor([1, 2, 3], dtype=getattr(fw, dtype))


def hessian_vector_products(fw, fn, arrays, dtype):
    """First gradients of sum(w * fn(inputs)**3) (created with create_graph) and the gradients
    of sum(v * first) with respect to the inputs, as NumPy arrays (None where unused): the
    cube keeps second derivatives of linear ops non-zero, and they run through the recorded
    backward of ``fn``."""
    rng = np.random.default_rng(7)
    inputs = [fw.tensor(array, dtype=getattr(fw, dtype), requires_grad=True) for array in arrays]
    outputs = as_tuple(fn(fw, *inputs))
    loss = 0
    for output in outputs:
        weight = fw.tensor(rng.uniform(-1.0, 1.0, tuple(output.shape)), dtype=output.dtype)
        loss = loss + (output * output * output * weight).sum()
    first = fw.autograd.grad(loss, inputs, create_graph=True)
    directions = [fw.tensor(rng.uniform(-1.0, 1.0, tuple(grad.shape)), dtype=grad.dtype)
                  for grad in first]
    total = sum((grad * direction).sum() for grad, direction in zip(first, directions))
    second = fw.autograd.grad(total, inputs, allow_unused=True)
    return ([grad.detach().numpy() for grad in first],
            [None if grad is None else grad.numpy() for grad in second])


def assert_second_derivatives_match_torch(torch, fn, shapes, dtype, test_module, rtol, atol):
    """``hessian_vector_products`` of ember and torch agree, in value and dtype, at inputs of
    ``shapes`` drawn in [-1, 1) (skipped while an op of another family is not converted)."""
    rng = np.random.default_rng(5)
    arrays = [rng.uniform(-1.0, 1.0, shape) for shape in shapes]
    try:
        mine = hessian_vector_products(ember, fn, arrays, dtype)
    except RuntimeError as error:
        skip_while_another_family_waits(error, test_module)
        raise
    theirs = hessian_vector_products(torch, fn, arrays, dtype)
    for ours_list, theirs_list in zip(mine, theirs):
        for ours, reference in zip(ours_list, theirs_list):
            assert (ours is None) == (reference is None)
            if reference is not None:
                assert ours.dtype == reference.dtype
                np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol)


def assert_float16_matches_torch(torch, fn, shapes, tolerance=2e-3):
    """float16 in, float16 out, and float16 gradients, equal to torch's CPU results within
    float16 rounding."""
    rng = np.random.default_rng(11)
    arrays = [rng.uniform(-1.0, 1.0, shape).astype(np.float16) for shape in shapes]
    results = []
    for fw in (ember, torch):
        inputs = [fw.tensor(array, requires_grad=True) for array in arrays]
        outputs = as_tuple(fn(fw, *inputs))
        sum((output.float() * output.float()).sum() for output in outputs).backward()
        results.append([output.detach().numpy() for output in outputs] +
                       [leaf.grad.numpy() for leaf in inputs])
    for ours, theirs in zip(*results):
        assert ours.dtype == theirs.dtype == np.float16
        np.testing.assert_allclose(ours.astype(np.float64), theirs.astype(np.float64),
                                   rtol=tolerance, atol=tolerance)


# The reduction and index tests' name for the second-derivative comparison (their float64
# gradgradcheck runs in CaseChecks, as for every family that lists OPS_MODULES).
GradGradChecks = SecondDerivativeChecks
