"""Tensor.untyped_storage() and Tensor.storage() against PyTorch: what code that compares or
sizes storages reads (data_ptr, sizes, elements, the deprecation warning)."""
import warnings

import numpy as np

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
    ember._storage._warned[0] = False
    ours = _describe(ember)
    theirs = _describe(torch)
    assert ours == theirs


def test_storage_of_a_transposed_view_without_torch():
    x = ember.arange(12, dtype=ember.int64).reshape(3, 4)
    view = x.t()[1:]
    assert view.untyped_storage().data_ptr() == x.data_ptr()
    assert view.untyped_storage().nbytes() == 96
    np.testing.assert_array_equal(view.storage().tolist(), np.arange(12))
