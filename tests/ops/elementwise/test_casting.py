"""ember.ops.elementwise.casting: clone, casts and copies (Tensor.to, copy_, fill_)."""
from ..op_table import (
    Case, CaseChecks, HalfChecks, SecondDerivativeChecks, UNARY, ValueChecks, ints)
from . import ELEMENTWISE_MODULES


# Ops of this family: their double backward must never be skipped as another family's.
OPS_MODULES = ELEMENTWISE_MODULES

CASES = [
    Case("copy_", lambda fw, a, b: (a * 1).copy_(b), [((3, 4), (3, 4)), ((3, 4), (4,))]),
    Case("zero_", lambda fw, a: (a * 1).zero_() + a, UNARY),
    Case("fill_", lambda fw, a: (a * 1).fill_(2.0) * a, UNARY),
    Case("clone", lambda fw, a: a.clone(), UNARY),
    # gradcheck perturbs the detached copy too, so only torch compares this one. Its second
    # derivative is not compared: a.detach() shares a's array, and a node that saves that array
    # takes it for a (ember.autograd.node matches saved arrays to inputs by identity).
    Case("detach_mix", lambda fw, a: a * a.detach(), UNARY, check_grad=False,
         torch_gradgrad=False),
]


VALUES = {
    "int_to_float_method": lambda fw: ints(fw).float() + ints(fw).double(),
    "short_char_byte": lambda fw: (fw.tensor([1.5, -2.0]).short(), fw.tensor([1.5]).char(),
                                   fw.tensor([3.0]).byte()),
}


class TestCasting(CaseChecks, SecondDerivativeChecks, HalfChecks, ValueChecks):
    """The op-table checks of every entry above."""
