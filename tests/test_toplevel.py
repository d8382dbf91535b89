"""torch's top-level spellings (ember._toplevel) and the Tensor methods added beside them,
against PyTorch: same values, same dtypes, same in-place effects."""
import copy
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import assert_raises_like_torch


def _pair(torch, values, dtype="float32"):
    return ember.tensor(values.astype(dtype)), torch.tensor(values.astype(dtype))


IN_PLACE = ["abs_", "ceil_", "cos_", "exp_", "floor_", "frac_", "neg_", "negative_", "relu_",
            "round_", "sigmoid_", "sin_", "sqrt_", "square_", "tanh_", "trunc_", "fix_", "zero_",
            "sinc_", "rsqrt_", "reciprocal_", "expm1_", "log1p_", "atan_", "deg2rad_"]


@pytest.mark.parametrize("name", IN_PLACE)
def test_functional_in_place_forms_match_torch(torch, name):
    values = np.random.default_rng(0).uniform(0.1, 2.0, size=(3, 4))
    mine, theirs = _pair(torch, values)
    result = getattr(ember, name)(mine)
    expected = getattr(torch, name)(theirs)
    assert result is mine
    np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


def test_method_forms_with_arguments_match_torch(torch):
    values = np.random.default_rng(1).standard_normal((4, 5))
    for call in [lambda m, x: m.clamp_(x, -0.5, 0.5), lambda m, x: m.clip_(x, min=0.0),
                 lambda m, x: m.fill_(x, 2.5), lambda m, x: m.nan_to_num_(x),
                 lambda m, x: m.split_with_sizes(x, [1, 3]),
                 lambda m, x: m.unsafe_chunk(x, 2, 1), lambda m, x: m.adjoint(x),
                 lambda m, x: m.greater(x, 0.1), lambda m, x: m.less_equal(x, 0.1),
                 lambda m, x: m.rsub(x, 3.0), lambda m, x: m.rsub(x, x * 2, alpha=0.5),
                 lambda m, x: m.trapz(x), lambda m, x: m.detach(x)]:
        mine, theirs = _pair(torch, values)
        got, expected = call(ember, mine), call(torch, theirs)
        if isinstance(expected, (tuple, list)):
            assert len(got) == len(expected)
            pairs = zip(got, expected)
        else:
            pairs = [(got, expected)]
        for one, other in pairs:
            assert str(one.dtype).split(".")[1] == str(other.dtype).split(".")[1]
            np.testing.assert_allclose(one.numpy(), other.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6)


def test_constants_and_queries_match_torch(torch):
    for name in ["pi", "e", "inf"]:
        assert getattr(ember, name) == getattr(torch, name)
    assert np.isnan(ember.nan) and ember.newaxis is torch.newaxis
    dtypes = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
    for source in dtypes:
        for target in dtypes:
            assert ember.can_cast(getattr(ember, source), getattr(ember, target)) == \
                torch.can_cast(getattr(torch, source), getattr(torch, target)), (source, target)
    operands = [lambda m: m.ones(2, dtype=m.int32), lambda m: m.tensor(1.5, dtype=m.float64),
                lambda m: m.ones(2, dtype=m.float16), lambda m: m.tensor(3), lambda m: 2.5,
                lambda m: 4, lambda m: True]
    for first in operands[:4]:
        for second in operands:
            assert str(ember.result_type(first(ember), second(ember))).split(".")[1] == \
                str(torch.result_type(first(torch), second(torch))).split(".")[1]
    scalar = ember.scalar_tensor(3)
    assert scalar.dtype == ember.float32 and scalar.dim() == 0 and scalar.item() == 3.0
    assert ember.typename(ember.ones(2, dtype=ember.int64)) == "ember.LongTensor"
    assert ember.typename(ember.nn.Linear(1, 1)) == "ember.nn.modules.linear.Linear"
    assert torch.typename(torch.nn.Linear(1, 1)) == "torch.nn.modules.linear.Linear"
    assert ember.typename(3) == torch.typename(3) == "int"
    assert not ember.is_storage(ember.ones(1))
    assert ember.is_storage(ember.ones(1).untyped_storage())
    assert ember.is_storage(ember.ones(1).storage())
    ember.set_num_interop_threads(3)
    assert ember.get_num_interop_threads() == 3
    with pytest.raises(RuntimeError):
        ember.set_num_interop_threads(0)


def test_asarray_shares_memory_as_torch(torch):
    array = np.arange(4, dtype=np.float32)
    shared = ember.asarray(array)
    array[0] = 10
    assert shared[0].item() == 10
    assert ember.asarray(array, copy=True).numpy() is not array
    converted = ember.asarray([1.0, 2.0])
    assert converted.dtype == ember.float32 and str(torch.asarray([1.0, 2.0]).dtype) == \
        "torch.float32"
    with pytest.raises(ValueError, match="copy=False"):
        ember.asarray(array, dtype=ember.float64, copy=False)
    assert ember.asarray(array, requires_grad=True).requires_grad


@pytest.mark.parametrize("source", ["plain", "leaf", "graph"])
@pytest.mark.parametrize("options", [{}, {"requires_grad": False}, {"requires_grad": True},
                                     {"copy": True}, {"dtype": "float64"},
                                     {"dtype": "float64", "requires_grad": False}])
def test_asarray_of_a_tensor_records_and_aliases_as_torch(torch, source, options):
    """PyTorch 2.13: requires_grad follows the tensor, copies stay in its graph, False
    detaches a graph result and clears a leaf's flag in place."""
    def made(m):
        leaf = m.tensor([1.0, 2.0], requires_grad=source != "plain")
        given = leaf * 2 if source == "graph" else leaf
        kwargs = dict(options)
        if "dtype" in kwargs:
            kwargs["dtype"] = getattr(m, kwargs["dtype"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = m.asarray(given, **kwargs)
        return (out is given, out.requires_grad, out.grad_fn is not None,
                given.requires_grad, out.data_ptr() == given.data_ptr(), out.tolist())
    assert made(ember) == made(torch)


def test_asarray_copy_of_a_tensor_passes_gradients_back():
    leaf = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    ember.asarray(leaf, copy=True).mul(ember.tensor([3.0, 4.0], dtype=ember.float64)).sum() \
        .backward()
    assert leaf.grad.tolist() == [3.0, 4.0]


def test_real_tensor_complex_views_match_torch(torch):
    values = np.random.default_rng(2).standard_normal((2, 3))
    for m in (ember, torch):
        x = m.tensor(values.astype("float32"))
        assert m.real(x) is x and x.conj() is x and x.resolve_conj() is x
        assert not x.is_conj() and not x.is_neg() and x.positive() is x
        assert tuple(x.mH.shape) == (3, 2) and tuple(x.H.shape) == (3, 2)
        assert x[1:, 1:].storage_offset() == 4
        with pytest.raises(RuntimeError, match="imag is not implemented"):
            m.imag(x)


def test_new_in_place_methods_match_torch(torch):
    ints = np.array([12, 7, 5, 9])
    for name, other in [("bitwise_and_", [10, 3, 4, 1]), ("bitwise_or_", [1, 2, 2, 4]),
                        ("bitwise_xor_", [3, 3, 3, 3]), ("gcd_", [8, 21, 10, 6]),
                        ("lcm_", [8, 21, 10, 6]), ("bitwise_left_shift_", [1, 2, 0, 3])]:
        mine, theirs = ember.tensor(ints), torch.tensor(ints)
        getattr(mine, name)(ember.tensor(other))
        getattr(theirs, name)(torch.tensor(other))
        assert mine.tolist() == theirs.tolist(), name
    floats = np.array([1.5, -2.0, 0.0, 3.25])
    for name, other in [("copysign_", [-1.0, 1.0, -1.0, 1.0]), ("heaviside_", [0.5] * 4),
                        ("float_power_", [2.0] * 4), ("ldexp_", [1.0, 2.0, 3.0, 0.0])]:
        mine = ember.tensor(floats, dtype=ember.float64)
        theirs = torch.tensor(floats, dtype=torch.float64)
        getattr(mine, name)(ember.tensor(other, dtype=ember.float64))
        getattr(theirs, name)(torch.tensor(other, dtype=torch.float64))
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)
    probabilities = ember.full((1000,), 0.25)
    draws = probabilities.bernoulli()
    assert set(np.unique(draws.numpy())) <= {0.0, 1.0} and 0.15 < draws.mean().item() < 0.35
    picks = ember.tensor([0.0, 1.0, 0.0]).multinomial(5, replacement=True)
    assert picks.tolist() == [1] * 5


def test_data_parallel_wraps_the_module_as_torch_without_gpus(torch):
    ember.manual_seed(0)
    inner = ember.nn.Linear(3, 2)
    wrapped = ember.nn.DataParallel(inner, device_ids=[0])
    reference = torch.nn.DataParallel(torch.nn.Linear(3, 2), device_ids=[0])
    assert list(wrapped.state_dict()) == list(reference.state_dict()) == \
        ["module.weight", "module.bias"]
    assert wrapped.device_ids == reference.device_ids == []
    assert repr(wrapped) == repr(reference)
    reference.load_state_dict({key: torch.tensor(value.numpy())
                               for key, value in wrapped.state_dict().items()})
    values = np.random.default_rng(3).standard_normal((4, 3)).astype("float32")
    np.testing.assert_allclose(wrapped(ember.tensor(values)).detach().numpy(),
                               reference(torch.tensor(values)).detach().numpy(), rtol=1e-6)
    functional = ember.nn.parallel.data_parallel(inner, ember.tensor(values))
    np.testing.assert_allclose(functional.detach().numpy(),
                               inner(ember.tensor(values)).detach().numpy())
    assert wrapped.module is inner and list(wrapped.parameters()) == list(inner.parameters())


def test_numpy_floating_point_warnings_of_ember_ops_are_not_shown_but_the_users_are():
    import warnings
    from ember import _numpy_errors
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        _numpy_errors.silence_in_ember()
        warnings.simplefilter("always", append=True)  # below ember's filter
        values = ember.tensor([3e38, -1.0, 0.0], requires_grad=True)
        # overflow, invalid value and divide by zero, forward and backward, as PyTorch: silently
        total = (values * 10).sum() + values.log().sum() + values.rsqrt().sum()
        total.backward()
        assert [str(warning.message) for warning in caught] == []
        assert np.isinf(total.item()) or np.isnan(total.item())
        np.float32(3e38) * np.float32(10)  # the user's own NumPy keeps its warning
        assert any("overflow" in str(warning.message) for warning in caught)


def test_random_module_and_fork_rng_restore_the_default_stream(torch):
    import ember.random
    for fw, random in ((ember, ember.random), (torch, torch.random)):
        random.manual_seed(5)
        expected = fw.rand(3)
        random.manual_seed(5)
        with random.fork_rng():
            fw.rand(7)
        after = fw.rand(3)
        assert fw.equal(after, expected)
        random.manual_seed(5)
        with random.fork_rng(enabled=False):
            fw.rand(7)
        assert not fw.equal(fw.rand(3), expected)
    assert ember.random.initial_seed() == 5
    assert ember.random.default_generator is ember.default_generator


def _write_index(index, folder):
    import pathlib
    pathlib.Path(folder, f"{index}.txt").write_text(str(index * 10))


def _fail_on_one(index):
    if index == 1:
        raise ValueError("rank one failed")


def test_multiprocessing_spawn_runs_each_index_and_reraises_a_failure(tmp_path):
    import ember.multiprocessing as mp
    assert mp.get_context is __import__("multiprocessing").get_context
    mp.spawn(_write_index, args=(str(tmp_path),), nprocs=2)
    assert sorted(path.read_text() for path in tmp_path.iterdir()) == ["0", "10"]
    with pytest.raises(mp.ProcessRaisedException, match="rank one failed") as raised:
        mp.spawn(_fail_on_one, nprocs=2)
    assert raised.value.error_index == 1
    context = mp.spawn(_write_index, args=(str(tmp_path),), nprocs=1, join=False)
    while not context.join():
        pass
    assert len(context.pids()) == 1


def _sgd_on_shared(rank, model):
    """A Hogwild worker: updates the shared parameters in place, as an optimizer step does."""
    optimizer = ember.optim.SGD(model.parameters(), lr=1.0)
    model.weight.grad = ember.full_like(model.weight, float(rank + 1))
    model.bias.grad = ember.full_like(model.bias, 10.0 * (rank + 1))
    optimizer.step()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_share_memory_lets_child_processes_train_the_parent_model(method):
    """PyTorch's Hogwild pattern (model.share_memory(), then processes that step the shared
    parameters): the parent sees every child's update, forked or spawned."""
    import ember.multiprocessing as mp
    model = ember.nn.Linear(3, 2)
    before = model.weight.detach().clone(), model.bias.detach().clone()
    assert not model.weight.is_shared()
    assert model.share_memory() is model
    assert model.weight.is_shared() and model.bias.is_shared()
    assert model.weight.requires_grad and isinstance(model.weight, ember.nn.Parameter)
    assert ember.equal(model.weight, before[0])
    weight_data = model.weight._data
    assert model.weight.share_memory_() is model.weight and model.weight._data is weight_data
    context = mp.get_context(method)
    processes = [context.Process(target=_sgd_on_shared, args=(rank, model)) for rank in (0, 1)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0]
    np.testing.assert_allclose(model.weight.detach().numpy(), before[0].numpy() - 3.0, rtol=1e-6)
    np.testing.assert_allclose(model.bias.detach().numpy(), before[1].numpy() - 30.0, rtol=1e-6)


def test_shared_tensors_pickle_by_value_outside_process_start():
    import pickle
    shared = ember.arange(6.0).reshape(2, 3).share_memory_()
    restored = pickle.loads(pickle.dumps(shared))
    assert restored.is_shared() is False and ember.equal(restored, shared)
    assert ember.ones(2).is_shared() is False
    column = shared[:, 1]
    assert column.is_shared()  # a view of shared memory is shared
    copied = copy.deepcopy(shared)
    assert not copied.is_shared() and ember.equal(copied, shared)


@pytest.mark.parametrize("arguments", [(0, 3), (1, 2, 0.25), (5, 1, -2), (0.5, 2), (0, 1, 0.3)])
def test_deprecated_range_like_pytorch(torch, arguments):
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        expected = torch.range(*arguments)
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        got = ember.range(*arguments)
    assert str(got.dtype) == str(expected.dtype).replace("torch", "ember")
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-7)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="inconsistent with step"):
        ember.range(0, 3, -1)


def test_cond_runs_the_branch_eagerly_with_gradients_as_torch(torch):
    """torch.cond is the branch the predicate picks (PyTorch compiles each call, which the
    reference below skips by running the branch itself); its predicate error is PyTorch's."""
    x = ember.ones(2, dtype=ember.float64, requires_grad=True)
    taken = ember.cond(x.sum() > 0, lambda a: (a * 2).sin(), lambda a: a.cos(), (x,))
    taken.sum().backward()
    reference = torch.ones(2, dtype=torch.float64, requires_grad=True)
    (reference * 2).sin().sum().backward()
    np.testing.assert_allclose(taken.detach().numpy(), (reference * 2).sin().detach().numpy(),
                               rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), reference.grad.numpy(), rtol=1e-15)
    other = ember.cond(False, lambda a, b: a + b, lambda a, b: a - b,
                       [ember.ones(2), ember.full((2,), 3.0)])
    assert other.tolist() == [-2.0, -2.0]
    assert ember.cond(1, lambda a: a[:1], lambda a: a, (ember.ones(2),)).shape == (1,)
    assert_raises_like_torch(
        lambda: torch.cond(torch.tensor([True, False]), abs, abs, (torch.ones(1),)),
        lambda: ember.cond(ember.tensor([True, False]), abs, abs, (ember.ones(1),)),
        same_type=True)


def test_sym_functions_on_python_numbers_match_torch(torch):
    calls = ["sym_int(3.7)", "sym_int(-3.7)", "sym_int(True)", "sym_float(3)", "sym_max(2, 5)",
             "sym_min(2.0, 1)", "sym_max(1, 2.5)", "sym_max(3, 3.0)", "sym_min(1, 1.0)",
             "sym_not(True)", "sym_ite(False, 1, 2)", "sym_sum([1, 2, 3])"]
    for call in calls:
        ours, theirs = eval(call, vars(ember)), eval(call, vars(torch))
        assert (ours, type(ours)) == (theirs, type(theirs)), call
