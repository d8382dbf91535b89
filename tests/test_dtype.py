"""ember's dtypes (ember/_dtype.py): defaults and aliases as in PyTorch, finfo and iinfo."""
import numpy as np

import ember
from ops.op_table import BadInputChecks, ValueChecks


def test_default_dtypes_follow_pytorch():
    assert ember.tensor([1.0, 2.0]).dtype is ember.float32
    assert ember.tensor([1, 2]).dtype is ember.int64
    assert ember.tensor([True]).dtype is ember.bool
    assert ember.tensor([1, 2.5]).dtype is ember.float32
    assert ember.tensor(3).dtype is ember.int64 and ember.tensor(3).shape == ()
    assert ember.zeros(2).dtype is ember.float32
    assert ember.arange(3).dtype is ember.int64
    assert ember.arange(0, 1, 0.5).dtype is ember.float32
    assert ember.full((2,), 7).dtype is ember.int64
    assert ember.full((2,), 7.0).dtype is ember.float32
    assert ember.full((2,), True).dtype is ember.bool
    assert ember.randint(0, 5, (3,)).dtype is ember.int64
    assert ember.randperm(4).dtype is ember.int64
    assert ember.tensor(np.zeros(2, np.float64)).dtype is ember.float64
    assert ember.tensor(np.zeros(2, np.int32)).dtype is ember.int32


def test_dtype_aliases_and_properties():
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.long is ember.int64 and ember.int is ember.int32
    assert repr(ember.float32) == "ember.float32"
    assert ember.float64.is_floating_point and not ember.int64.is_floating_point
    assert ember.float32.itemsize == 4
    for dtype in (ember.float32, ember.float64, ember.int64, ember.int32, ember.bool):
        assert ember.zeros(2, dtype=dtype).dtype is dtype


BAD_INPUTS = {
    "finfo_int": lambda fw: fw.finfo(fw.int32),
    "iinfo_float": lambda fw: fw.iinfo(fw.float32),
}


VALUES = {
    "finfo_iinfo": lambda fw: tuple(
        (info.bits, info.eps, info.max, info.min, info.tiny, info.smallest_normal,
         info.resolution, str(info.dtype)) for info in (fw.finfo(fw.float32), fw.finfo(),
                                                        fw.finfo(fw.float64))) + tuple(
        (info.bits, info.min, info.max, str(info.dtype))
        for info in (fw.iinfo(fw.int32), fw.iinfo(fw.int64), fw.iinfo(fw.uint8))),
}


class TestDtype(BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""
