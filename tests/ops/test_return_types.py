"""The named tuples ops return: PyTorch's class names (``torch.return_types.topk``), fields, the
way they print (one ``field=value`` a line) and pickling."""
import pickle
import re

import numpy as np
import pytest

import ember

MATRIX = np.array([[2.0, 0.5, 0.1], [0.5, 3.0, 0.2], [0.1, 0.2, 4.0]], dtype=np.float32)
VECTOR = np.array([3.0, 1.0, 2.0, 1.0], dtype=np.float32)

# (label, call on a framework module, matrix or vector input)
CASES = [
    ("max", lambda t, x: t.max(x, 0), VECTOR),
    ("Tensor.min", lambda t, x: x.min(0), VECTOR),
    ("sort", lambda t, x: t.sort(x), VECTOR),
    ("topk", lambda t, x: x.topk(2), VECTOR),
    ("kthvalue", lambda t, x: t.kthvalue(x, 2), VECTOR),
    ("median", lambda t, x: t.median(x, 0), VECTOR),
    ("nanmedian", lambda t, x: t.nanmedian(x, 0), VECTOR),
    ("mode", lambda t, x: t.mode(x), VECTOR),
    ("cummax", lambda t, x: t.cummax(x, 0), VECTOR),
    ("cummin", lambda t, x: t.cummin(x, 0), VECTOR),
    ("sort of a 0-d", lambda t, x: t.sort(x[0]), VECTOR),
    ("topk of a 0-d", lambda t, x: x[0].topk(1), VECTOR),
    ("aminmax", lambda t, x: t.aminmax(x), VECTOR),
    ("frexp", lambda t, x: t.frexp(x), VECTOR),
    ("histogram", lambda t, x: t.histogram(x, 2), VECTOR),
    ("slogdet", lambda t, x: t.slogdet(x), MATRIX),
    ("linalg.slogdet", lambda t, x: t.linalg.slogdet(x), MATRIX),
    ("linalg.eigh", lambda t, x: t.linalg.eigh(x), MATRIX),
    ("linalg.qr", lambda t, x: t.linalg.qr(x), MATRIX),
    ("linalg.svd", lambda t, x: t.linalg.svd(x), MATRIX),
    ("svd", lambda t, x: t.svd(x), MATRIX),
    ("linalg.lstsq", lambda t, x: t.linalg.lstsq(x, x), MATRIX),
    ("linalg.lu_factor", lambda t, x: t.linalg.lu_factor(x), MATRIX),
    ("linalg.lu_factor_ex", lambda t, x: t.linalg.lu_factor_ex(x), MATRIX),
    ("linalg.lu", lambda t, x: t.linalg.lu(x), MATRIX),
    ("lu_unpack", lambda t, x: t.lu_unpack(*t.linalg.lu_factor(x)), MATRIX),
    ("linalg.cholesky_ex", lambda t, x: t.linalg.cholesky_ex(x), MATRIX),
    ("linalg.inv_ex", lambda t, x: t.linalg.inv_ex(x), MATRIX),
    ("linalg.solve_ex", lambda t, x: t.linalg.solve_ex(x, x), MATRIX),
]


@pytest.mark.parametrize("label,call,data", CASES, ids=[case[0] for case in CASES])
def test_name_fields_and_repr_match_pytorch(label, call, data, torch):
    ours = call(ember, ember.tensor(data))
    theirs = call(torch, torch.tensor(data))
    assert type(ours).__name__ == type(theirs).__name__
    assert isinstance(ours, tuple) and len(ours) == len(theirs)
    printed = repr(theirs).replace("torch.", "ember.")
    if label not in ("linalg.eigh", "linalg.qr", "linalg.svd", "svd", "linalg.lstsq"):
        # (factorizations' last digits and signs are LAPACK's: compared by name only)
        assert repr(ours) == printed
    else:
        assert re.findall(r"^(\w+)=", repr(ours), re.MULTILINE) == \
            re.findall(r"^(\w+)=", printed, re.MULTILINE)
        assert repr(ours).startswith(printed.splitlines()[0])


def test_fields_read_the_items_and_pickle_keeps_the_type():
    result = ember.tensor(VECTOR).topk(2)
    assert result.values is result[0] and result.indices is result[1]
    values, indices = result
    np.testing.assert_array_equal(indices.numpy(), [0, 2])
    restored = pickle.loads(pickle.dumps(result))
    assert type(restored) is type(result)
    np.testing.assert_array_equal(restored.values.numpy(), [3.0, 2.0])
    assert repr(ember.tensor(VECTOR).max(0)) == ("ember.return_types.max(\n"
                                                 "values=tensor(3.),\nindices=tensor(0))")
