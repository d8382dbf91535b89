"""Tensors pickle by value, as torch's do: pickle, copy, multiprocessing and concurrent.futures
work; the graph and .grad are not kept, Parameters stay Parameters. (ember's loaders never
unpickle.)"""
import concurrent.futures
import copy
import pickle

import numpy as np
import pytest

import ember
from ember.nn import Parameter


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16",
                                   "int8", "uint8", "bool"])
def test_round_trip_keeps_values_dtype_and_shape(protocol, dtype):
    array = (np.random.default_rng(0).standard_normal((3, 4)) * 5).astype(dtype)
    tensor = ember.from_numpy(array)[:, ::2]  # a non-contiguous view
    loaded = pickle.loads(pickle.dumps(tensor, protocol=protocol))
    assert type(loaded) is ember.Tensor
    assert loaded.dtype is tensor.dtype and loaded.shape == (3, 2)
    assert np.array_equal(loaded.numpy(), array[:, ::2])
    assert not loaded.requires_grad


def test_zero_dim_and_empty_tensors():
    for tensor in (ember.tensor(3.5), ember.zeros(0, 3), ember.tensor(True)):
        loaded = pickle.loads(pickle.dumps(tensor))
        assert loaded.shape == tensor.shape and loaded.dtype is tensor.dtype
        assert loaded.tolist() == tensor.tolist()


def test_requires_grad_is_kept_but_not_the_graph_or_grad(torch):
    leaf = ember.ones(2, requires_grad=True)
    leaf.grad = ember.full((2,), 3.0)
    result = leaf * 2
    loaded_leaf, loaded_result = pickle.loads(pickle.dumps((leaf, result)))
    assert loaded_leaf.requires_grad and loaded_leaf.is_leaf and loaded_leaf.grad is None
    # A non-leaf comes back as a leaf that requires grad, its values kept (torch does the same).
    assert loaded_result.requires_grad and loaded_result.is_leaf
    assert loaded_result.tolist() == [2.0, 2.0]
    torch_leaf = torch.ones(2, requires_grad=True)
    torch_leaf.grad = torch.full((2,), 3.0)
    torch_loaded, torch_result = pickle.loads(pickle.dumps((torch_leaf, torch_leaf * 2)))
    assert torch_loaded.grad is None
    assert torch_result.requires_grad and torch_result.is_leaf


def test_parameters_stay_parameters():
    parameter = Parameter(ember.randn(2, 3))
    frozen = Parameter(ember.ones(2), requires_grad=False)
    loaded, loaded_frozen = pickle.loads(pickle.dumps([parameter, frozen]))
    assert type(loaded) is Parameter and loaded.requires_grad
    assert type(loaded_frozen) is Parameter and not loaded_frozen.requires_grad
    assert loaded.tolist() == parameter.tolist()


def test_a_tensor_pickled_twice_in_one_object_is_one_tensor():
    tensor = ember.arange(3.0)
    first, second = pickle.loads(pickle.dumps([tensor, tensor]))
    assert first is second


def test_loaded_tensors_own_their_data():
    tensor = ember.arange(4.0)
    loaded = pickle.loads(pickle.dumps(tensor))
    loaded.add_(1.0)
    assert tensor.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert loaded.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_copy_shares_data_and_deepcopy_does_not(torch):
    tensor = ember.arange(3.0)
    shallow = copy.copy(tensor)
    deep = copy.deepcopy(tensor)
    tensor.add_(10.0)
    assert shallow.tolist() == [10.0, 11.0, 12.0]  # torch's copy.copy shares storage too
    assert deep.tolist() == [0.0, 1.0, 2.0]
    torch_tensor = torch.arange(3.0)
    torch_shallow = copy.copy(torch_tensor)
    torch_tensor.add_(10.0)
    assert torch_shallow.tolist() == shallow.tolist()
    parameter = Parameter(ember.ones(2))
    assert type(copy.copy(parameter)) is Parameter
    assert type(copy.deepcopy(parameter)) is Parameter


def test_model_state_pickles_inside_containers():
    model = ember.nn.Linear(3, 2)
    state = pickle.loads(pickle.dumps({"epoch": 1, "model": model.state_dict()}))
    restored = ember.nn.Linear(3, 2)
    restored.load_state_dict(state["model"])
    assert ember.equal(restored.weight, model.weight) and ember.equal(restored.bias, model.bias)


def _scaled_sum(pair):
    tensor, factor = pair
    return (tensor * factor).sum(), tensor.dtype


def test_process_pool_map_sends_and_returns_tensors():
    inputs = [(ember.arange(4.0) + index, index) for index in range(4)]
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_scaled_sum, inputs))
    assert [total.item() for total, _ in results] == [(6.0 + 4 * index) * index
                                                      for index in range(4)]
    assert all(dtype is ember.float32 for _, dtype in results)
