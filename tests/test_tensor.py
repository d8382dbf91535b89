"""Tensor basics: metadata, conversions, printing in PyTorch's form, random fills, errors of
the Tensor API beyond the ops."""
import copy
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import assert_same_outcome_as_torch
from ops.op_table import BadInputChecks, ValueChecks


# ---- metadata and conversions -------------------------------------------------------------------
def test_metadata():
    x = ember.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3
    assert x.size(-1) == 4
    assert repr(x.shape) == "ember.Size([2, 3, 4])"
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.device == ember.device("cpu")
    assert x.is_leaf and not x.requires_grad and x.grad is None and x.grad_fn is None
    assert x.is_floating_point() and not ember.tensor([1]).is_floating_point()
    assert x.element_size() == 4


def test_item_tolist_numpy_array_len_iter():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert ember.tensor(2.5).item() == 2.5 and isinstance(ember.tensor(2.5).item(), float)
    assert isinstance(ember.tensor(3).item(), int)
    assert isinstance(ember.tensor(True).item(), bool)
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert ember.tensor(5).tolist() == 5
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().dtype == np.float32
    assert np.shares_memory(x.numpy(), np.asarray(x))
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert len(x) == 2
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    assert float(ember.tensor([1.5])) == 1.5 and int(ember.tensor(7)) == 7
    assert bool(ember.tensor([1.0])) is True
    assert [10, 20, 30][ember.tensor(1)] == 20


@pytest.mark.parametrize("source", [
    "np.sqrt(fw.tensor(4.0))", "np.sqrt(fw.tensor([4.0, 9.0]))", "np.log1p(fw.tensor([1, 2]))",
    "np.isfinite(fw.tensor([1.0, float('inf')]))", "np.add(fw.ones(2), fw.ones(2))",
    "np.maximum(fw.ones(2), 0.5)", "np.abs(fw.tensor(-3))", "np.exp(fw.ones(2)[::2])",
    "np.square(fw.arange(4).view(2, 2).t())", "np.argmax(fw.tensor([1, 3, 2]))"])
def test_numpy_ufuncs_on_tensors_give_tensors_like_torch(torch, source):
    """A program's ``np.sqrt(mse)`` prints a tensor under PyTorch (its ``__array_wrap__``), bool
    results becoming uint8."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 2 on torch's old signature
        theirs = eval(source, {"fw": torch, "np": np})
    ours = eval(source, {"fw": ember, "np": np})
    assert isinstance(ours, ember.Tensor)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_numpy_conversion_of_a_tensor_that_requires_grad_raises_like_torch(torch):
    for convert in (np.asarray, np.array, np.sqrt):
        with pytest.raises(RuntimeError) as theirs, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            convert(torch.ones(2, requires_grad=True) * 2)
        with pytest.raises(RuntimeError) as ours:
            convert(ember.ones(2, requires_grad=True) * 2)
        assert str(ours.value) == str(theirs.value)
    assert np.asarray(ember.ones(2, requires_grad=True).detach()).tolist() == [1.0, 1.0]


def test_conversion_errors():
    with pytest.raises(RuntimeError, match="elements cannot be converted to Scalar"):
        ember.ones(3).item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ember.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ember.tensor(1.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.ones(2))
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\) instead"):
        ember.ones(2, requires_grad=True).numpy()
    with pytest.raises(TypeError):
        [1, 2][ember.tensor(1.0)]


def test_to_and_dtype_methods():
    x = ember.tensor([1.5, -2.5])
    assert x.to(ember.float64).dtype is ember.float64
    assert x.double().dtype is ember.float64 and x.long().tolist() == [1, -2]
    assert x.int().dtype is ember.int32 and x.bool().dtype is ember.bool
    assert x.to(ember.float32) is x
    assert x.to(ember.ones(1, dtype=ember.float64)).dtype is ember.float64
    assert x.type() == "ember.FloatTensor"


def test_clone_contiguous_detach():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    d = x.detach()
    assert np.shares_memory(d.numpy(), x.detach().numpy())
    m = ember.ones(3, 4).t()
    assert not m.is_contiguous() and m.contiguous().is_contiguous()
    assert ember.ones(2).contiguous().is_contiguous()


@pytest.mark.parametrize("way", [
    lambda fw: fw.tensor([1, 2]).requires_grad_(),
    lambda fw: setattr(fw.tensor([1, 2]), "requires_grad", True),
    lambda fw: fw.tensor([1, 2], requires_grad=True),
    lambda fw: fw.zeros(2, dtype=fw.long, requires_grad=True),
    lambda fw: fw.arange(3, requires_grad=True),
    lambda fw: fw.nn.Parameter(fw.tensor([1, 2])),
    lambda fw: fw.ones(1).new_zeros(2, dtype=fw.int32, requires_grad=True)])
def test_integer_tensors_refuse_grad_in_torch_words(torch, way):
    # PyTorch's message depends on the way in: requires_grad_(), the attribute, a factory
    with pytest.raises(RuntimeError) as expected:
        way(torch)
    with pytest.raises(RuntimeError) as got:
        way(ember)
    assert str(got.value) == str(expected.value)


def test_deepcopy_of_leaf_copies_data_and_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    y = copy.deepcopy(x)
    assert y.requires_grad and y.grad is not None
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)


def test_deepcopy_and_stack_errors_word_for_word_as_torch(torch):
    from tests.conftest import assert_raises_like_torch
    for framework_call in (lambda fw: copy.deepcopy(fw.ones(2, requires_grad=True) * 2),
                           lambda fw: fw.stack([np.ones(2)]), lambda fw: fw.cat([fw.ones(1), 2.0]),
                           lambda fw: fw.nn.utils.rnn.pad_sequence([np.ones(2)])):
        assert_raises_like_torch(lambda: framework_call(torch), lambda: framework_call(ember),
                                 same_type=True)


SIZE_EXPRESSIONS = ["s[1:]", "s[::-1]", "s[5:]", "s[0]", "s + (5,)", "(1,) + s", "s * 2", "2 * s",
                    "s + s", "s * 0", "s.count(3)", "s.index(4)", "tuple(s)", "s == (3, 4)",
                    "copy.deepcopy(s)"]


def _size_results(fw):
    """What each expression on a Size gives: its repr (framework prefix dropped), its type's
    name, and for ``s + [5]`` the error."""
    s = fw.Size([3, 4])
    results = []
    for expression in SIZE_EXPRESSIONS:
        value = eval(expression, {"s": s, "copy": copy})
        results.append((expression, repr(value).replace(fw.__name__ + ".", ""),
                        type(value).__name__))
    with pytest.raises(TypeError) as error:
        s + [5]
    results.append(str(error.value).replace(fw.__name__ + ".", ""))
    return results


def test_size_slices_and_sums_are_sizes_like_torch(torch):
    assert _size_results(ember) == _size_results(torch)
    assert repr(ember.zeros(2, 3, 4).shape[1:]) == "ember.Size([3, 4])"


def _attribute_behaviour(fw):
    """What becomes of attributes a program sets on a tensor and on a parameter (BinaryNet's
    ``p.org``) through clone, detach, .data, indexing, deepcopy (of the tensor and of a module)
    and pickle."""
    import pickle
    tensor = fw.ones(2)
    tensor.tag = [1]
    parameter = fw.nn.Parameter(fw.ones(2))
    parameter.org = fw.zeros(2)
    layer = fw.nn.Linear(2, 2)
    layer.weight.no_decay = True
    copied = copy.deepcopy(tensor)
    seen = {
        "tensor_dict": dict(tensor.__dict__),
        "parameter_keys": sorted(parameter.__dict__),
        "derived": [hasattr(view, "tag") for view in
                    (tensor.clone(), tensor.detach(), tensor.data, tensor[0], tensor * 1)],
        "deepcopy": (copied.tag, copied.tag is tensor.tag),
        "deepcopy_parameter": hasattr(copy.deepcopy(parameter), "org"),
        "deepcopy_module": hasattr(copy.deepcopy(layer).weight, "no_decay"),
        "pickle": (pickle.loads(pickle.dumps(tensor)).tag,
                   pickle.loads(pickle.dumps(parameter)).org.tolist()),
    }
    del tensor.tag
    seen["deleted"] = hasattr(tensor, "tag")
    return seen


def test_programs_can_set_attributes_on_tensors_like_torch(torch):
    assert _attribute_behaviour(ember) == _attribute_behaviour(torch)


# ---- printing -----------------------------------------------------------------------------------
REPR_CASES = {
    "float_decimals": lambda fw: fw.tensor([1.5, 2.25, -3.125]),
    "float_integral": lambda fw: fw.tensor([1.0, 2.0]),
    "float_scalar": lambda fw: fw.tensor(3.5),
    "float_scalar_integral": lambda fw: fw.tensor(2.0),
    "float_matrix": lambda fw: fw.tensor([[1.0, 2.5], [-3.0, 4.0]]),
    "float_small": lambda fw: fw.tensor([0.0001, 0.5]),
    "float_large": lambda fw: fw.tensor([1.0e9, 1.0]),
    "float_wide_range": lambda fw: fw.tensor([1000.5, 0.25]),
    "float_nan_inf": lambda fw: fw.tensor([float("nan"), float("inf"), -float("inf"), 1.5]),
    "float_negative_zero_one": lambda fw: fw.tensor([-1.0, 0.0, 1.0]),
    "float64": lambda fw: fw.tensor([1.5, 2.0], dtype=fw.float64),
    "float64_scalar": lambda fw: fw.tensor(1.0, dtype=fw.float64),
    "int": lambda fw: fw.tensor([1, 20, -300]),
    "int_matrix": lambda fw: fw.tensor([[1, 2], [30, 4]]),
    "int_scalar": lambda fw: fw.tensor(7),
    "int32": lambda fw: fw.tensor([1, 2], dtype=fw.int32),
    "bool": lambda fw: fw.tensor([True, False, True]),
    "bool_scalar": lambda fw: fw.tensor(False),
    "requires_grad": lambda fw: fw.tensor([1.0, 2.0], requires_grad=True),
    "requires_grad_float64": lambda fw: fw.tensor([1.5], dtype=fw.float64, requires_grad=True),
    "requires_grad_scalar": lambda fw: fw.tensor(2.5, requires_grad=True),
    "empty": lambda fw: fw.zeros(0),
    "empty_2d": lambda fw: fw.zeros(2, 0),
    "empty_int": lambda fw: fw.zeros(0, dtype=fw.int64),
    "three_dims": lambda fw: fw.arange(12.0).reshape(2, 3, 2),
    "long_row": lambda fw: fw.arange(20.0) / 3,
    "long_int_row": lambda fw: fw.arange(30),
    "summarized": lambda fw: fw.arange(2000.0),
    "summarized_matrix": lambda fw: fw.arange(3000).reshape(30, 100),
    "summarized_float_rows": lambda fw: fw.arange(3000.0).reshape(3, 1000) / 7,
    "summarized_three_dims": lambda fw: fw.arange(2400).reshape(4, 20, 30) - 1200,
    "wrapped_decimals": lambda fw: (fw.arange(25.0) - 12) / 7,
    "linspace": lambda fw: fw.linspace(-1, 1, 25),
    "integral_with_nan": lambda fw: fw.tensor([1.0, float("nan"), 3.0]),
    "only_nonfinite": lambda fw: fw.tensor([float("nan"), float("inf")]),
    "zeros_float": lambda fw: fw.zeros(3),
    "bool_matrix": lambda fw: fw.tensor([[True, False], [False, True]]),
    "int_negative_wide": lambda fw: fw.tensor([-100000, 5]),
    "nested_empty": lambda fw: fw.zeros(2, 0, 3),
}


@pytest.mark.parametrize("name", sorted(REPR_CASES))
def test_repr_matches_torch(name, torch):
    ember_text = repr(REPR_CASES[name](ember)).replace("ember.", "torch.")
    torch_text = repr(REPR_CASES[name](torch))
    assert ember_text == torch_text


def test_repr_of_result_names_its_grad_fn():
    y = ember.tensor([1.0, 2.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2., 4.], grad_fn=<MulBackward0>)"


# ---- the Tensor API beyond the ops: bad inputs and values as torch's; random fills -----------
BAD_INPUTS = {
    "item_many": lambda fw: fw.ones(2).item(),
    "bool_ambiguous": lambda fw: bool(fw.ones(2)),
    "len_zero_dim": lambda fw: len(fw.ones(())),
    "requires_grad_int": lambda fw: fw.tensor([1, 2]).requires_grad_(),
    "backward_non_scalar": lambda fw: (fw.ones(2, requires_grad=True) * 2).backward(),
    "backward_no_grad": lambda fw: fw.ones(2).sum().backward(),
    "leaf_inplace": lambda fw: fw.ones(3, requires_grad=True).add_(1),
    "numpy_requires_grad": lambda fw: fw.ones(3, requires_grad=True).numpy(),
    "random_from_to": lambda fw: fw.zeros(2).random_(5, 2),
    "exponential_negative": lambda fw: fw.zeros(2).exponential_(-1.0),
    "geometric_p": lambda fw: fw.zeros(2).geometric_(1.5),
    "log_normal_std": lambda fw: fw.zeros(2).log_normal_(0.0, -1.0),
    "cauchy_sigma": lambda fw: fw.zeros(2).cauchy_(0.0, -1.0),
    "device_bad_type": lambda fw: fw.device("gpu"),
    "device_bad_index": lambda fw: fw.device("cuda:x"),
    "set_num_threads_zero": lambda fw: fw.set_num_threads(0),
}


VALUES = {
    "apply_map_": lambda fw: (fw.tensor([1.0, 2.0]).apply_(lambda v: v * 3),
                              fw.tensor([[1, 2], [3, 4]]).map_(fw.tensor([10, 20]),
                                                               lambda a, b: a * b)),
    "metadata": lambda fw: (fw.ones(2).is_cpu, fw.ones(2).get_device(),
                            fw.ones(2).is_complex(), fw.ones(2, dtype=fw.uint8).is_signed(),
                            fw.ones(2).is_same_size(fw.zeros(2)), fw.ones(2).is_pinned()),
    "backend_flags": lambda fw: tuple(getattr(fw.ones(2), name) for name in (
        "is_meta", "is_mps", "is_quantized", "is_nested", "is_mkldnn", "is_sparse_csr", "is_xla",
        "is_xpu", "is_ipu", "is_vulkan", "is_maia", "is_mtia")) + (
        fw.ones(2).is_distributed(), fw.ones(2).is_shared()),
    "is_set_to_output_nr": lambda fw: _set_to_and_output_nr(fw),
}


def _set_to_and_output_nr(fw):
    base = fw.arange(6.0).requires_grad_()
    first, second = base.split(3)
    view = base.view(2, 3)
    return (base.is_set_to(base), base.is_set_to(base.clone()), view.is_set_to(base),
            view[0].is_set_to(base[:3]), base.output_nr, first.output_nr, second.output_nr,
            (base * 2).output_nr)


class TestTensorApi(BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_random_fills_stay_in_range_and_follow_the_seed():
    ember.manual_seed(3)
    first = ember.zeros(200).random_(2, 7)
    ember.manual_seed(3)
    again = ember.zeros(200).random_(2, 7)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert first.min().item() == 2 and first.max().item() == 6
    below = ember.zeros(100, dtype=ember.int64).random_(4)
    assert below.dtype is ember.int64 and 0 <= below.min().item() and below.max().item() <= 3
    waits = ember.zeros(4000, dtype=ember.float64).exponential_(2.0)
    assert waits.min().item() >= 0 and abs(waits.mean().item() - 0.5) < 0.05


def test_more_random_fills_follow_their_distributions():
    ember.manual_seed(5)
    trials = ember.zeros(20000, dtype=ember.float64).geometric_(0.25)
    assert trials.min().item() >= 1 and abs(trials.mean().item() - 4.0) < 0.15
    logs = ember.zeros(20000, dtype=ember.float64).log_normal_(0.5, 0.25).log()
    assert abs(logs.mean().item() - 0.5) < 0.02 and abs(logs.std().item() - 0.25) < 0.02
    draws = ember.zeros(20000, dtype=ember.float64).cauchy_(1.0, 2.0)
    assert abs(draws.median().item() - 1.0) < 0.1


def test_format_matches_torch(torch):
    cases = [(lambda m: m.tensor(0.5), ""), (lambda m: m.tensor(0.5), ".3f"),
             (lambda m: m.tensor(3), ""), (lambda m: m.tensor(True), ""),
             (lambda m: m.tensor(2.5, dtype=m.float64), ">8"),
             (lambda m: m.tensor([1.0, 2.0]), ""),
             (lambda m: m.nn.Parameter(m.tensor(2.0)), "")]
    for make, spec in cases:
        mine, theirs = format(make(ember), spec), format(make(torch), spec)
        assert mine.replace("ember.", "torch.") == theirs, (mine, theirs)
    for make in (lambda m: m.tensor([1.0, 2.0]), lambda m: m.nn.Parameter(m.tensor(2.0))):
        with pytest.raises(TypeError, match="unsupported format string") as mine:
            format(make(ember), ".3f")
        with pytest.raises(TypeError) as theirs:
            format(make(torch), ".3f")
        assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("convert", [float, int])
@pytest.mark.parametrize("size", [0, 2])
def test_python_scalar_of_not_one_element_raises_value_error_like_torch(torch, convert, size):
    with pytest.raises(ValueError) as theirs:
        convert(torch.zeros(size))
    with pytest.raises(ValueError) as ours:
        convert(ember.zeros(size))
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("other", [None, "a", [1, 2], (1, 2), object()])
def test_equality_with_a_non_tensor_is_identity_like_torch(torch, other):
    """PyTorch's == and != give NotImplemented for such operands: Python compares identities
    (``mask == None`` is False instead of a TypeError)."""
    for fw in (torch, ember):
        tensor = fw.tensor([1, 2])
        assert (tensor == other) is False
        assert (tensor != other) is True


def test_invert_of_a_float_tensor_raises_type_error_like_torch(torch):
    with pytest.raises(TypeError) as theirs:
        ~torch.tensor([1.0])
    with pytest.raises(TypeError) as ours:
        ~ember.tensor([1.0])
    assert str(ours.value) == str(theirs.value)


def test_hardshrink_and_prelu_methods_match_torch(torch):
    values = np.array([[-1.0, 0.2, 0.7], [0.4, -0.6, 2.0]], np.float32)
    results = []
    for library in (torch, ember):
        x = library.tensor(values, requires_grad=True)
        out = x.hardshrink(0.5) + x.hardshrink() * 2 + x.prelu(library.tensor([0.25]))
        out.sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy()))
    for got, expected in zip(*reversed(results)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool"])
@pytest.mark.parametrize("call", [
    lambda t, fw: t.clamp_(min=1e-6), lambda t, fw: t.clamp_(max=0.5),
    lambda t, fw: t.clamp_min_(0.5), lambda t, fw: t.clamp_max_(0.5),
    lambda t, fw: t.clamp_(min=0.5, max=fw.tensor(1.0)), lambda t, fw: t.clamp_(min=fw.tensor(0.5)),
    lambda t, fw: t.clamp_(min=1)])
def test_in_place_clamp_of_integers_by_a_float_errs_as_torch(torch, dtype, call):
    # the clamp kernel's check for scalar bounds names the C++ type ('long int'); a tensor bound
    # goes through the general cast check ('Long')
    assert_same_outcome_as_torch(
        torch, lambda fw: call(fw.tensor([1, 0], dtype=getattr(fw, dtype)), fw))


@pytest.mark.parametrize("dtype, fill, new_dtype", [
    ("uint8", -0.5, None), ("uint8", -1, None), ("int8", 200, None), ("float32", -1, "uint8"),
    ("float32", 2.7, "int32"), ("bool", 0.5, None), ("float16", 1e6, None),
    ("float32", 2.5, None)])
def test_new_full_fills_as_torch(torch, dtype, fill, new_dtype):
    assert_same_outcome_as_torch(torch, lambda fw: fw.zeros(2, dtype=getattr(fw, dtype)).new_full(
        (2,), fill, dtype=None if new_dtype is None else getattr(fw, new_dtype)))


def _assign_grad(fw, grad):
    tensor = fw.ones(2, requires_grad=True)
    tensor.grad = grad(fw)


def _assign_data(fw):
    tensor = fw.ones(2)
    tensor.data = [1.0, 2.0]


@pytest.mark.parametrize("call", [
    lambda fw: fw.zeros(2, 3).repeat(-1, 2), lambda fw: fw.zeros(2, 3).repeat(2, -1, 2),
    lambda fw: fw.zeros(0, 3).repeat(2, -1), lambda fw: fw.zeros(2, 3).tile(-1),
    lambda fw: fw.zeros(0, 3).repeat(-1, 1).shape,
    lambda fw: fw.normal(fw.zeros(2), -fw.ones(2)), lambda fw: fw.normal(0.0, -1.0, (2,)),
    lambda fw: _assign_grad(fw, lambda fw: fw.ones(3)),
    lambda fw: _assign_grad(fw, lambda fw: fw.ones(2, dtype=fw.float64)),
    lambda fw: _assign_grad(fw, lambda fw: fw.ones(2, dtype=fw.long)),
    _assign_data,
    lambda fw: fw.ones(2, requires_grad=True)[0:1].detach_(),
    lambda fw: fw.ones(2, requires_grad=True).view(2).detach_(),
    lambda fw: fw.ones(2, requires_grad=True).detach().detach_().requires_grad,
    lambda fw: fw.manual_seed(2 ** 64), lambda fw: fw.manual_seed(-2 ** 63 - 1),
    lambda fw: fw.Generator().manual_seed(2 ** 64),
    lambda fw: fw.zeros(2, 3).sum(dim=(0, -2)), lambda fw: fw.zeros(2, 3).var(dim=(1, 1)),
    lambda fw: fw.zeros(2, 3).amax(dim=(0, 0)),
    lambda fw: type(fw.linalg.inv(fw.zeros(2, 2))).__name__,
    lambda fw: fw.ones(2).uniform_(2, 1), lambda fw: fw.ones(2).uniform_(1e-7, 0),
    lambda fw: fw.ones(2).uniform_(3, 3).tolist(),
    lambda fw: fw.ones(2).normal_(0, -0.5), lambda fw: fw.ones(2).bernoulli_(1.5),
    lambda fw: fw.ones(2).bernoulli_(fw.full((2,), 1.5)),
    lambda fw: fw.zeros(3)["a"], lambda fw: fw.zeros(3)[b"a"],
    lambda fw: fw.add(fw.tensor([1.0]), fw.tensor([1.0]), alpha=True),
    lambda fw: fw.sub(fw.tensor([1]), fw.tensor([1]), alpha=True),
    lambda fw: fw.add(fw.tensor([True]), fw.tensor([False]), alpha=True).tolist(),
    lambda fw: fw.tensor([True]) - fw.tensor([False]),
    lambda fw: fw.addcdiv(fw.tensor([1]), fw.tensor([1]), fw.tensor([2])),
    lambda fw: fw.lerp(fw.ones(2), fw.ones(2, dtype=fw.float64), 0.5),
    lambda fw: fw.lerp(fw.ones(2), fw.ones(2), fw.ones(2, dtype=fw.float64)),
    lambda fw: fw.histc(fw.tensor([1, 2])), lambda fw: fw.cartesian_prod(fw.ones(2, 2)),
    lambda fw: fw.diff(fw.ones(3), n=-1), lambda fw: fw.corrcoef(fw.ones(2, 2, 2)),
    lambda fw: fw.cov(fw.ones(2, 2, 2)), lambda fw: fw.ones(2).copy_(fw.ones(3)),
    lambda fw: fw.ones(2).copy_(fw.ones(2, 2))])
def test_misuse_raises_torchs_error(torch, call):
    assert_same_outcome_as_torch(torch, call)


@pytest.mark.parametrize("destination, source", [
    ((1, 2), (1, 3)), ((2,), (3,)), ((2,), (2, 3)), ((2,), (1, 2)), ((3, 2), (4, 2)),
    ((2, 3), (3, 1, 3)), ((4, 1), (2,)), ((2, 3), (2,))])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_copy_of_a_mismatched_shape_fails_like_torch(torch, destination, source, requires_grad):
    """copy_ names the first dimension that does not broadcast, or, where the shapes broadcast
    to something else than the destination, that broadcast shape (PyTorch's TensorIterator)."""
    def copy(library):
        target = library.ones(*destination, requires_grad=requires_grad).clone()
        target.copy_(library.ones(*source, requires_grad=requires_grad))

    with pytest.raises(RuntimeError) as theirs:
        copy(torch)
    with pytest.raises(RuntimeError) as ours:
        copy(ember)
    assert str(ours.value) == str(theirs.value)
