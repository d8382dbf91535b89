"""PackedSequence helpers (ember.nn.utils.rnn) and recurrent layers on packed input, vs torch."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import rnn as rnn_utils
from tests.conftest import assert_close

LENGTHS = [3, 5, 2, 5]


def _padded_pair(torch, shape, seed=1):
    array = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return torch.tensor(array, requires_grad=True), ember.tensor(array, requires_grad=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_pack_and_pad_round_trip_matches_torch(torch, batch_first, enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    shape = (4, 5, 3) if batch_first else (5, 4, 3)
    torch_x, ember_x = _padded_pair(torch, shape)
    torch_packed = torch.nn.utils.rnn.pack_padded_sequence(torch_x, lengths, batch_first,
                                                           enforce_sorted)
    ember_packed = rnn_utils.pack_padded_sequence(ember_x, lengths, batch_first, enforce_sorted)
    assert_close(ember_packed.data, torch_packed.data)
    assert ember_packed.batch_sizes.tolist() == torch_packed.batch_sizes.tolist()
    for name in ("sorted_indices", "unsorted_indices"):
        torch_value = getattr(torch_packed, name)
        ember_value = getattr(ember_packed, name)
        assert (ember_value is None) == (torch_value is None)
        if torch_value is not None:
            assert ember_value.tolist() == torch_value.tolist()
    torch_padded, torch_lengths = torch.nn.utils.rnn.pad_packed_sequence(
        torch_packed, batch_first, padding_value=-1.0, total_length=6)
    ember_padded, ember_lengths = rnn_utils.pad_packed_sequence(
        ember_packed, batch_first, padding_value=-1.0, total_length=6)
    assert_close(ember_padded, torch_padded)
    assert ember_lengths.tolist() == torch_lengths.tolist()
    weights = np.random.default_rng(9).standard_normal(tuple(torch_padded.shape))
    weights = weights.astype(np.float32)
    (torch_padded * torch.tensor(weights)).sum().backward()
    (ember_padded * ember.tensor(weights)).sum().backward()
    assert_close(ember_x.grad, torch_x.grad)


def test_pad_pack_unpad_unpack_sequence_match_torch(torch):
    arrays = [np.random.default_rng(seed).standard_normal((length, 2)).astype(np.float32)
              for seed, length in enumerate(LENGTHS)]
    torch_list = [torch.tensor(array) for array in arrays]
    ember_list = [ember.tensor(array) for array in arrays]
    for batch_first in (False, True):
        for side in ("right", "left"):
            assert_close(rnn_utils.pad_sequence(ember_list, batch_first, 0.5, side),
                         torch.nn.utils.rnn.pad_sequence(torch_list, batch_first, 0.5, side))
    torch_packed = torch.nn.utils.rnn.pack_sequence(torch_list, enforce_sorted=False)
    ember_packed = rnn_utils.pack_sequence(ember_list, enforce_sorted=False)
    assert_close(ember_packed.data, torch_packed.data)
    for ember_item, array in zip(rnn_utils.unpack_sequence(ember_packed), arrays):
        assert_close(ember_item, array)
    padded = rnn_utils.pad_sequence(ember_list)
    for ember_item, array in zip(rnn_utils.unpad_sequence(padded, ember.tensor(LENGTHS)),
                                 arrays):
        assert_close(ember_item, array)


@pytest.mark.parametrize("dtype, padding", [(np.float32, 0.0), (np.int64, -1), (np.float64, 2.5)])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 2)])
def test_pad_sequence_of_a_collated_batch_matches_torch(torch, dtype, padding, trailing):
    """pad_sequence of tensors that need no gradient (a collate_fn's batch) fills one buffer:
    PyTorch's values, dtype and layout on every side and batch_first, empty sequences too;
    with a tensor that requires grad the result is still recorded."""
    rng = np.random.default_rng(len(trailing))
    arrays = [rng.standard_normal((length,) + trailing).astype(dtype) for length in (3, 0, 5, 1)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            ours = rnn_utils.pad_sequence([ember.tensor(array) for array in arrays], batch_first,
                                          padding, side)
            theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(array) for array in arrays],
                                                     batch_first, padding, side)
            assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
            assert ours.stride() == theirs.stride()
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    leaf = ember.tensor(arrays[0].astype(np.float32), requires_grad=True)
    padded = rnn_utils.pad_sequence([leaf, ember.tensor(arrays[2].astype(np.float32))])
    padded.sum().backward()
    assert padded.grad_fn is not None and leaf.grad.tolist() == np.ones_like(arrays[0]).tolist()


@pytest.mark.parametrize("method", ["double", "float", "half", "long", "int", "short", "char",
                                    "byte", "cpu"])
def test_packed_sequence_conversions_match_torch(torch, method):
    # PyTorch's shorthands convert ``data`` only; the indices and batch sizes stay int64
    arrays = [np.arange(length * 2, dtype=np.float32).reshape(length, 2) for length in LENGTHS]
    results = []
    for library in (torch, ember):
        packed = library.nn.utils.rnn.pack_sequence([library.tensor(array) for array in arrays],
                                                    enforce_sorted=False)
        converted = getattr(packed, method)()
        assert type(converted) is type(packed)
        assert (converted is packed) == (method in ("float", "cpu"))
        results.append([str(converted.data.dtype).split(".")[-1],
                        str(converted.sorted_indices.dtype).split(".")[-1],
                        converted.batch_sizes.tolist(), converted.data.tolist()])
    assert results[1] == results[0]


def test_packing_errors_match_torch(torch):
    cases = [
        lambda library, utils: utils.pack_padded_sequence(library.zeros(5, 3, 2), [2, 4, 3]),
        lambda library, utils: utils.pack_padded_sequence(library.zeros(5, 3, 2), [4, 0, 0]),
        lambda library, utils: utils.pad_packed_sequence(
            utils.pack_padded_sequence(library.zeros(5, 3, 2), [4, 3, 1]), total_length=2),
    ]
    for case in cases:
        with pytest.raises(Exception) as expected:
            case(torch, torch.nn.utils.rnn)
        with pytest.raises(expected.type) as actual:
            case(ember, rnn_utils)
        assert str(actual.value) == str(expected.value)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted, initial", [(False, True), (True, False)])
def test_layers_on_packed_input_match_torch(torch, name, enforce_sorted, initial):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    torch_module = getattr(torch.nn, name)(3, 4, num_layers=2, bidirectional=True)
    ember_module = getattr(nn, name)(3, 4, num_layers=2, bidirectional=True)
    ember_module.load_state_dict({key: ember.tensor(value.numpy())
                                  for key, value in torch_module.state_dict().items()})
    torch_x, ember_x = _padded_pair(torch, (5, 4, 3))
    torch_leaves, ember_leaves = [torch_x], [ember_x]
    torch_args, ember_args = [], []
    if initial:
        torch_h, ember_h = _padded_pair(torch, (4, 4, 4), seed=2)
        torch_leaves.append(torch_h)
        ember_leaves.append(ember_h)
        if name == "LSTM":
            torch_c, ember_c = _padded_pair(torch, (4, 4, 4), seed=3)
            torch_leaves.append(torch_c)
            ember_leaves.append(ember_c)
            torch_args.append((torch_h, torch_c))
            ember_args.append((ember_h, ember_c))
        else:
            torch_args.append(torch_h)
            ember_args.append(ember_h)
    torch_packed = torch.nn.utils.rnn.pack_padded_sequence(torch_x, lengths,
                                                           enforce_sorted=enforce_sorted)
    ember_packed = rnn_utils.pack_padded_sequence(ember_x, lengths,
                                                  enforce_sorted=enforce_sorted)
    torch_output, torch_final = torch_module(torch_packed, *torch_args)
    ember_output, ember_final = ember_module(ember_packed, *ember_args)
    assert isinstance(ember_output, rnn_utils.PackedSequence)
    assert ember_output.batch_sizes.tolist() == torch_output.batch_sizes.tolist()
    torch_padded, _ = torch.nn.utils.rnn.pad_packed_sequence(torch_output)
    ember_padded, _ = rnn_utils.pad_packed_sequence(ember_output)
    torch_results = [torch_padded] + (list(torch_final) if name == "LSTM" else [torch_final])
    ember_results = [ember_padded] + (list(ember_final) if name == "LSTM" else [ember_final])
    torch_loss = 0
    ember_loss = 0
    for index, (torch_result, ember_result) in enumerate(zip(torch_results, ember_results)):
        assert_close(ember_result, torch_result, atol=1e-5)
        weights = np.random.default_rng(20 + index).standard_normal(
            tuple(torch_result.shape)).astype(np.float32)
        torch_loss = torch_loss + (torch_result * torch.tensor(weights)).sum()
        ember_loss = ember_loss + (ember_result * ember.tensor(weights)).sum()
    torch_loss.backward()
    ember_loss.backward()
    for torch_leaf, ember_leaf in zip(torch_leaves, ember_leaves):
        assert_close(ember_leaf.grad, torch_leaf.grad, rtol=1e-4, atol=1e-5)
    torch_parameters = dict(torch_module.named_parameters())
    for key, parameter in ember_module.named_parameters():
        assert_close(parameter.grad, torch_parameters[key].grad, rtol=1e-4, atol=1e-5)


def _unpad_effects(library, batch_first):
    """What unpad_sequence returns and leaves behind, for PyTorch's docstring example."""
    rnn = library.nn.utils.rnn
    sequences = [library.arange(6.0).reshape(3, 2), library.arange(4.0).reshape(2, 2) + 10]
    padded = rnn.pad_sequence(sequences, batch_first=batch_first).requires_grad_() * 1
    unpadded = rnn.unpad_sequence(padded, library.tensor([3, 2]), batch_first=batch_first)
    results = [(item.detach().numpy().tolist(), item.grad_fn.name()) for item in unpadded]
    errors = []
    for lengths in ([3, 2, 1], [3]):
        try:
            rnn.unpad_sequence(rnn.pad_sequence(sequences), library.tensor(lengths))
        except ValueError as error:
            errors.append(str(error))
    leaf = rnn.pad_sequence(sequences).requires_grad_()
    try:
        rnn.unpad_sequence(leaf, library.tensor([3, 2]))
    except RuntimeError as error:
        errors.append(str(error))
    return results, tuple(padded.shape), errors


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_transposes_in_place_and_copies_like_torch(torch, batch_first):
    """PyTorch transposes a time-first batch in place, returns masked copies and refuses
    lengths of another count; the docstring example then sees the padded tensor batch-first."""
    assert _unpad_effects(ember, batch_first) == _unpad_effects(torch, batch_first)
