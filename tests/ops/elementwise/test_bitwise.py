"""ember.ops.elementwise.bitwise: bitwise and integer ops."""
import numpy as np

import ember

from ..op_table import BadInputChecks, ValueChecks


BAD_INPUTS = {
    "bitwise_float": lambda fw: fw.ones(2) & fw.ones(2),
    "bitwise_float_number": lambda fw: fw.tensor([1, 2]) | 1.5,
}


VALUES = {
    "bitwise_operators": lambda fw: (fw.tensor([6, 5]) & fw.tensor([3, 1]),
                                     fw.tensor([6, 5]) | 8, 3 ^ fw.tensor([6, 5]),
                                     fw.tensor([1, 2], dtype=fw.int32) << 3,
                                     fw.tensor([64, 7]) >> fw.tensor([2, 1]),
                                     fw.tensor([True, False]) & fw.tensor([3, 1]),
                                     fw.tensor([True, False]) ^ True),
    "bitwise_functions": lambda fw: (fw.bitwise_and(fw.tensor([12]), fw.tensor([10])),
                                     fw.bitwise_or(fw.tensor([12], dtype=fw.uint8), 1),
                                     fw.bitwise_xor(fw.tensor([True]), fw.tensor([True])),
                                     fw.gcd(fw.tensor([12, 7]), fw.tensor([8, 0])),
                                     fw.lcm(fw.tensor([4, 6]), fw.tensor([6, 4]))),
}


class TestBitwise(BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


def test_inplace_bitwise_operators_on_masks():
    mask = ember.tensor([True, False, True])
    mask &= ember.tensor([True, True, False])
    mask |= ember.tensor([False, True, False])
    mask ^= ember.tensor([True, False, False])
    np.testing.assert_array_equal(mask.numpy(), [False, True, False])
