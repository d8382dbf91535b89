"""Tensor.untyped_storage() and Tensor.storage() against PyTorch: what code that compares or
sizes storages reads (data_ptr, sizes, elements, the deprecation warning)."""
import warnings

import numpy as np
import pytest

import ember


def _describe(library):
    x = library.arange(6, dtype=library.float32).reshape(2, 3)
    row = x[1]
    untyped = row.untyped_storage()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        typed = row.storage()
    return {
        "same block": untyped.data_ptr() == x.data_ptr() == x[0].untyped_storage().data_ptr(),
        "copy differs": x.clone().untyped_storage().data_ptr() != untyped.data_ptr(),
        "untyped": (untyped.nbytes(), untyped.size(), len(untyped), untyped.element_size(),
                    str(untyped.device), untyped[4]),
        "typed": (typed.size(), len(typed), str(typed.dtype).split(".")[1], typed.element_size(),
                  typed[4], typed.tolist(), typed.data_ptr() == x.data_ptr()),
        "warned": [str(warning.message)[:40] for warning in caught],
        "classes": (isinstance(untyped, library.UntypedStorage),
                    isinstance(typed, library.TypedStorage)),
        "offset": row.storage_offset(),
    }


def test_storages_match_torch(torch):
    # both warn once per process: start both afresh (another test may have used storages)
    ember._storage._warned[0] = False
    torch.storage._reset_warn_typed_storage_removal()
    ours = _describe(ember)
    theirs = _describe(torch)
    assert ours == theirs


def test_storage_of_a_transposed_view_without_torch():
    x = ember.arange(12, dtype=ember.int64).reshape(3, 4)
    view = x.t()[1:]
    assert view.untyped_storage().data_ptr() == x.data_ptr()
    assert view.untyped_storage().nbytes() == 96
    np.testing.assert_array_equal(view.storage().tolist(), np.arange(12))


def _outcome(call):
    """What ``call()`` gives: ('value', value) or ('error', type name, message's first line)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("value", call())
        except Exception as error:  # noqa: BLE001 (the outcome is what is compared)
            return ("error", type(error).__name__, str(error).split("\n")[0])


def _set_cases(library):
    """Tensor.set_ in each of its forms: the values, geometry, sharing and versions it gives."""
    def geometry(tensor):
        return (tensor.tolist(), tuple(tensor.shape), tensor.stride(), tensor.storage_offset())

    def shared():
        x, source = library.ones(3), library.arange(6.0).reshape(2, 3)
        before = x._version
        same = x.set_(source) is x
        x[0, 0] = 100.0
        return (same, geometry(x), geometry(source), x._version - before, source._version,
                x.data_ptr() == source.data_ptr())

    def storage(*args, **kwargs):
        return lambda: geometry(library.ones(2).set_(*args, **kwargs))

    memory = library.arange(10.0).untyped_storage
    return {
        "shared": shared,
        "empty": lambda: _empty(library.ones(3).set_()),
        "strided view": lambda: geometry(library.ones(3).set_(
            library.arange(8.0).reshape(2, 4)[:, 1:3])),
        "tensor geometry": lambda: geometry(library.ones(3).set_(library.arange(8.0), 1, (2, 2),
                                                                  (1, 3))),
        "storage": storage(memory()),
        "typed storage": storage(library.arange(10.0).storage()),
        "storage offset": storage(memory(), 1, (3,)),
        "storage strides": storage(memory(), 1, [3], [2]),
        "keywords": storage(source=memory(), storage_offset=2, size=(2, 2), stride=(1, 2)),
        "reinterpreted": lambda: geometry(library.ones(1, dtype=library.float64).set_(
            library.arange(4.0).untyped_storage())),
        "dtype": lambda: library.ones(3).set_(library.arange(3)),
        "typed dtype": lambda: library.ones(3).set_(library.arange(3).storage()),
        "too small": lambda: library.ones(3).set_(library.ones(2).untyped_storage(), 0, (3,)),
        "strides length": storage(memory(), 0, (2, 2), (1,)),
        "offset": storage(memory(), -1, (2,)),
        "not a source": lambda: library.ones(3).set_(5),
        "offset alone": lambda: library.ones(3).set_(library.ones(2), 0),
        "leaf": lambda: library.ones(3, requires_grad=True).set_(library.ones(2)),
    }


def _empty(tensor):
    return (tensor.tolist(), tuple(tensor.shape), tensor.stride(),
            tensor.untyped_storage().nbytes())


def test_empty_tensors_have_pytorchs_strides(torch):
    for library in (ember, torch):
        made = [library.zeros(0, 3), library.zeros(2, 0, 3), library.empty(0),
                library.ones(3, 4)[:, :0]]
        assert [tensor.stride() for tensor in made] == [(3, 1), (3, 3, 1), (1,), (4, 1)]


def test_set_matches_torch(torch):
    ours, theirs = _set_cases(ember), _set_cases(torch)
    for name, call in ours.items():
        assert _outcome(call) == _outcome(theirs[name]), name


def test_set_records_a_node_without_derivative(torch):
    for library in (ember, torch):
        with library.no_grad():
            parameter = library.ones(3, requires_grad=True)
            parameter.set_(library.zeros(2))
        assert parameter.requires_grad and parameter.grad_fn is None
        leaf = library.ones(2, requires_grad=True)
        target = library.ones(3).set_(leaf * 2)
        assert target.requires_grad and target.grad_fn.name().endswith("NotImplemented")
        with pytest.raises(RuntimeError, match="derivative for set_ is not implemented"):
            target.sum().backward()


def _read_like_safetensors(library, path):
    """safetensors' framework="pt" read: map the file, slice its bytes, view them as a dtype."""
    mapped = library.UntypedStorage.from_file(str(path), shared=False, nbytes=28)
    values = library.asarray(mapped[4:28], dtype=library.uint8).view(library.float32)
    default = library.asarray(mapped[4:21])
    return mapped, values, default


def test_file_mapped_storages_read_like_torch(torch, tmp_path):
    path = tmp_path / "weights.bin"
    payload = np.arange(7, dtype=np.float32)
    payload.tofile(path)
    ours, theirs = _read_like_safetensors(ember, path), _read_like_safetensors(torch, path)
    assert len(ours[0]) == len(theirs[0]) == 28 and isinstance(ours[0], ember.UntypedStorage)
    np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    assert ours[2].dtype == ember.int64 and ours[2].tolist() == theirs[2].tolist()
    ours[1][0] = 9.0  # private mapping: the file keeps its bytes
    assert np.fromfile(path, dtype=np.float32).tolist() == payload.tolist()
    shared = ember.UntypedStorage.from_file(str(path), shared=True, nbytes=8)
    ember.asarray(shared, dtype=ember.float32)[1] = 5.0
    assert np.fromfile(path, dtype=np.float32)[:2].tolist() == [0.0, 5.0]
    for library in (ember, torch):
        with pytest.raises(RuntimeError, match="is smaller than the required mapping size <99>"):
            library.UntypedStorage.from_file(str(path), shared=False, nbytes=99)
        with pytest.raises(RuntimeError, match="only a step of 1 is supported"):
            library.UntypedStorage.from_file(str(path), nbytes=8)[0:8:2]
    assert len(ember.UntypedStorage.from_file(str(path))) == 0
