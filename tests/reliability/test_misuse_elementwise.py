"""Elementwise ops used as a careless user would, side by side with torch: every mistake raises
the exception type torch raises (no NumPy UFuncTypeError, ValueError or AttributeError from
inside), with the words users search for where torch has them, and a failed in-place call
leaves its tensor as it was."""
import numpy as np
import pytest

import ember


def _floats(fw):
    return fw.tensor([1.0, 2.0, 3.0])


def _ints(fw):
    return fw.tensor([1, 2, 3])


def _bools(fw):
    return fw.tensor([True, False, True])


# name -> (call(fw), a regex both messages match, or None where only the type is torch's)
CASES = {
    # arguments that are not tensors
    "exp of None": (lambda fw: fw.exp(None),
                    r"exp\(\): argument 'input' \(position 1\) must be Tensor, not NoneType"),
    "sin of a list": (lambda fw: fw.sin([1.0, 2.0]), r"sin\(\).*must be Tensor, not list"),
    "sigmoid of a float": (lambda fw: fw.sigmoid(0.5), r"sigmoid\(\).*must be Tensor, not float"),
    "abs of a string": (lambda fw: fw.abs("a"), r"abs\(\).*must be Tensor, not str"),
    "sign of an ndarray": (lambda fw: fw.sign(np.ones(2)),
                           r"sign\(\).*must be Tensor, not numpy.ndarray"),
    "neg of a tuple": (lambda fw: fw.neg((1.0, 2.0)), r"neg\(\).*must be Tensor, not tuple"),
    "relu of None": (lambda fw: fw.relu(None), r"relu\(\).*must be Tensor, not NoneType"),
    "floor of a float": (lambda fw: fw.floor(2.5), r"floor\(\).*must be Tensor, not float"),
    "round of a list": (lambda fw: fw.round([1.5]), r"round\(\).*must be Tensor, not list"),
    "erfinv of None": (lambda fw: fw.erfinv(None), r"erfinv\(\).*must be Tensor"),
    "frac of an int": (lambda fw: fw.frac(3), r"frac\(\).*must be Tensor, not int"),
    "square of None": (lambda fw: fw.square(None), r"square\(\).*must be Tensor"),
    "clone of a list": (lambda fw: fw.clone([1.0]), r"clone\(\).*must be Tensor, not list"),
    "isnan of a float": (lambda fw: fw.isnan(1.0), r"isnan\(\).*must be Tensor, not float"),
    "logical_not of None": (lambda fw: fw.logical_not(None), r"logical_not\(\).*must be Tensor"),
    "bitwise_not of a list": (lambda fw: fw.bitwise_not([1]), r"bitwise_not\(\).*must be Tensor"),
    "frexp of a float": (lambda fw: fw.frexp(1.5), r"frexp\(\).*must be Tensor"),
    "add None": (lambda fw: fw.add(_floats(fw), None),
                 r"add\(\): argument 'other' \(position 2\) must be Tensor, not NoneType"),
    "mul a string": (lambda fw: fw.mul(_floats(fw), "a"), r"mul\(\).*must be Tensor, not str"),
    "mul a list": (lambda fw: fw.mul(_floats(fw), [1.0, 2.0, 3.0]),
                   r"mul\(\).*must be Tensor, not list"),
    "pow of None": (lambda fw: fw.pow(None, _floats(fw)), r"pow"),
    "remainder of two numbers": (lambda fw: fw.remainder(2, 3), r"remainder"),
    "xlogy of two numbers": (lambda fw: fw.xlogy(2, 3), r"xlogy"),
    "fmod of a number by a tensor": (lambda fw: fw.fmod(2.0, _floats(fw)), r"fmod"),
    "copysign of a number": (lambda fw: fw.copysign(2.0, _floats(fw)), r"copysign"),
    "atan2 with a number": (lambda fw: fw.atan2(_floats(fw), 2.0),
                            r"atan2\(\): argument 'other' \(position 2\) must be Tensor"),
    "hypot of a number": (lambda fw: fw.hypot(2.0, _floats(fw)),
                          r"hypot\(\): argument 'input' \(position 1\) must be Tensor"),
    "logaddexp with a number": (lambda fw: fw.logaddexp(_floats(fw), 1.0), r"logaddexp\(\)"),
    "fmax with a number": (lambda fw: fw.fmax(_floats(fw), 1.0), r"fmax\(\)"),
    "maximum with a number": (lambda fw: fw.maximum(_floats(fw), 1.0), r"maximum\(\)"),
    "gcd with a number": (lambda fw: fw.gcd(_ints(fw), 2), r"gcd\(\)"),
    "logical_and with a number": (lambda fw: fw.logical_and(_bools(fw), True),
                                  r"logical_and\(\)"),
    "eq of two numbers": (lambda fw: fw.eq(2, 3), r"eq"),
    "isclose with a list": (lambda fw: fw.isclose(_floats(fw), [1.0, 2.0, 3.0]),
                            r"isclose\(\).*must be Tensor, not list"),
    "allclose of None": (lambda fw: fw.allclose(None, _floats(fw)), r"allclose\(\)"),
    "equal with a float": (lambda fw: fw.equal(_floats(fw), 1.0), r"equal\(\)"),
    "heaviside of a list": (lambda fw: fw.heaviside([1.0], _floats(fw)), r"heaviside\(\)"),
    "lerp to a number": (lambda fw: fw.lerp(_floats(fw), 1.0, 0.5), r"lerp"),
    "lerp by a string": (lambda fw: fw.lerp(_floats(fw), _floats(fw), "a"), r"lerp"),
    "ldexp by a number": (lambda fw: fw.ldexp(_floats(fw), 2),
                          r"ldexp\(\): argument 'other' \(position 2\) must be Tensor, not int"),
    "float_power by a string": (lambda fw: fw.float_power(_floats(fw), "a"), r"float_power"),
    "addcmul of None": (lambda fw: fw.addcmul(_floats(fw), _floats(fw), None),
                        r"addcmul\(\): argument 'tensor2'"),
    "clamp of None": (lambda fw: fw.clamp(None, 0.0, 1.0), r"clamp"),
    "clamp by a string": (lambda fw: fw.clamp(_floats(fw), min="a"), r"clamp"),
    "clamp by a list": (lambda fw: fw.clamp(_floats(fw), max=[1.0]), r"clamp"),
    "clamp by a tensor and a number": (lambda fw: fw.clamp(_floats(fw), min=_floats(fw),
                                                           max=1.0), r"clamp"),
    "clamp_min of None": (lambda fw: fw.clamp_min(_floats(fw), None), r"clamp_min"),
    "sub a string operator": (lambda fw: _floats(fw) - "a", None),
    "pow a string operator": (lambda fw: _floats(fw) ** "a", None),
    # dtypes without kernels
    "abs of bools": (lambda fw: fw.abs(_bools(fw)), r'"abs_cpu" not implemented for \'Bool\''),
    "floor of bools": (lambda fw: fw.floor(_bools(fw)), r"not implemented for 'Bool'"),
    "round of bools": (lambda fw: fw.round(_bools(fw)), r"not implemented for 'Bool'"),
    "round of ints to decimals": (lambda fw: fw.round(_ints(fw), decimals=1),
                                  r'"round_cpu" not implemented for \'Long\''),
    "frac of ints": (lambda fw: fw.frac(_ints(fw)), r'"frac_cpu" not implemented for \'Long\''),
    "neg of bools": (lambda fw: -_bools(fw), r"Negation, the `-` operator, on a bool tensor"),
    "positive of bools": (lambda fw: fw.positive(_bools(fw)), r"on a bool tensor"),
    "relu of bools": (lambda fw: fw.relu(_bools(fw)), r"Boolean inputs not supported for relu"),
    "sub of bools": (lambda fw: _bools(fw) - _bools(fw), r"with two bool tensors"),
    "sub of a bool tensor": (lambda fw: _floats(fw) - _bools(fw), r"with a bool tensor"),
    "sub a bool number": (lambda fw: _floats(fw).sub(True), r"with a bool tensor"),
    "floor_divide of bools": (lambda fw: _bools(fw) // _bools(fw),
                              r'"div_floor_cpu" not implemented for \'Bool\''),
    "remainder of bools": (lambda fw: _bools(fw) % _bools(fw),
                           r'"remainder_cpu" not implemented for \'Bool\''),
    "fmod of bools": (lambda fw: fw.fmod(_bools(fw), _bools(fw)), r"fmod_cpu"),
    "pow of bools": (lambda fw: _bools(fw) ** _bools(fw), r'"pow" not implemented for \'Bool\''),
    "hypot of ints": (lambda fw: fw.hypot(_ints(fw), _ints(fw)),
                      r'"hypot_cpu" not implemented for \'Long\''),
    "logaddexp of ints": (lambda fw: fw.logaddexp(_ints(fw), _ints(fw)), r"logaddexp_cpu"),
    "logaddexp2 of bools": (lambda fw: fw.logaddexp2(_bools(fw), _bools(fw)),
                            r"logaddexp2_cpu"),
    "shift of bools": (lambda fw: fw.bitwise_left_shift(_bools(fw), _bools(fw)),
                       r'"lshift_cpu" not implemented for \'Bool\''),
    "gcd of bools": (lambda fw: fw.gcd(_bools(fw), _bools(fw)), r"gcd_cpu"),
    "bitwise_and of floats": (lambda fw: _floats(fw) & _floats(fw),
                              r'"bitwise_and_cpu" not implemented for \'Float\''),
    "bitwise_or with a float": (lambda fw: _ints(fw) | 1.5, r"bitwise_or_cpu"),
    "bitwise_not of floats": (lambda fw: fw.bitwise_not(_floats(fw)),
                              r'"bitwise_not_cpu" not implemented for \'Float\''),
    "clamp of bools by tensors": (lambda fw: fw.clamp(_bools(fw), _bools(fw), _bools(fw)),
                                  r'"clamp_cpu" not implemented for \'Bool\''),
    "clamp of bools by a bool": (lambda fw: fw.clamp(_bools(fw), min=True),
                                 r"clamp_min_scalar_cpu"),
    "addcmul of bools": (lambda fw: fw.addcmul(_bools(fw), _bools(fw), _bools(fw)),
                         r"addcmul_cpu_out"),
    "addcdiv of ints": (lambda fw: fw.addcdiv(_floats(fw), _ints(fw), _ints(fw)),
                        r"Integer division with addcdiv is no longer supported"),
    "lerp of ints": (lambda fw: fw.lerp(_ints(fw), _ints(fw), 0.5), r"not implemented for"),
    "lerp of mixed dtypes": (lambda fw: fw.lerp(_floats(fw), _floats(fw).double(), 0.5),
                             r"expected dtype"),
    "heaviside of mixed dtypes": (lambda fw: fw.heaviside(_floats(fw), _floats(fw).double()),
                                  r"heaviside is not yet implemented for tensors with different"),
    "isclose of mixed dtypes": (lambda fw: fw.isclose(_floats(fw), _ints(fw)),
                                r"Float did not match Long"),
    "allclose of mixed dtypes": (lambda fw: fw.allclose(_floats(fw), _floats(fw).double()),
                                 r"Float did not match Double"),
    "frexp of ints": (lambda fw: fw.frexp(_ints(fw)), r"only supports floating-point dtypes"),
    "ints to a negative power": (lambda fw: _ints(fw) ** -1,
                                 r"Integers to negative integer powers are not allowed"),
    "ints floor-divided by zero": (lambda fw: _ints(fw) // 0, r"ZeroDivisionError"),
    "ints modulo zero": (lambda fw: _ints(fw) % 0, r"ZeroDivisionError"),
    "ints fmod zero": (lambda fw: fw.fmod(_ints(fw), 0), r"ZeroDivisionError"),
    "ints divided by zero, truncated": (lambda fw: fw.div(_ints(fw), 0, rounding_mode="trunc"),
                                        r"ZeroDivisionError"),
    "int requires grad": (lambda fw: fw.tensor([1, 2], requires_grad=True),
                          r"[Oo]nly Tensors of floating point"),
    # shapes that do not broadcast
    "add shapes": (lambda fw: fw.ones(2, 3) + fw.ones(4),
                   r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                   r"non-singleton dimension 1"),
    "atan2 shapes": (lambda fw: fw.atan2(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "pow shapes": (lambda fw: fw.pow(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "maximum shapes": (lambda fw: fw.maximum(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "fmin shapes": (lambda fw: fw.fmin(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "xlogy shapes": (lambda fw: fw.xlogy(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "eq shapes": (lambda fw: fw.eq(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "logical_and shapes": (lambda fw: fw.logical_and(_floats(fw), fw.ones(2)),
                           r"The size of tensor a"),
    "gcd shapes": (lambda fw: fw.gcd(_ints(fw), fw.ones(2, dtype=fw.int64)),
                   r"The size of tensor a"),
    "isclose shapes": (lambda fw: fw.isclose(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "allclose shapes": (lambda fw: fw.allclose(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "heaviside shapes": (lambda fw: fw.heaviside(_floats(fw), fw.ones(2)),
                         r"The size of tensor a"),
    "clamp shapes": (lambda fw: fw.clamp(_floats(fw), min=fw.ones(2)), r"The size of tensor a"),
    "lerp shapes": (lambda fw: fw.lerp(_floats(fw), fw.ones(2), 0.5), r"The size of tensor a"),
    "ldexp shapes": (lambda fw: fw.ldexp(_floats(fw), fw.ones(2)), r"The size of tensor a"),
    "div floor shapes": (lambda fw: fw.div(_floats(fw), fw.ones(2), rounding_mode="floor"),
                         r"The size of tensor a"),
    "addcdiv shapes": (lambda fw: fw.addcdiv(_floats(fw), fw.ones(2), fw.ones(2)),
                       r"The size of tensor a"),
    # other arguments out of their domain
    "add with a string alpha": (lambda fw: fw.add(_floats(fw), _floats(fw), alpha="a"),
                                r"add\(\): argument 'alpha' must be Number, not str"),
    "sub of ints with a float alpha": (lambda fw: fw.sub(_ints(fw), _ints(fw), alpha=0.5),
                                       r"For integral input tensors, argument alpha must not "
                                       r"be a floating point number"),
    "addcdiv with a None value": (lambda fw: fw.addcdiv(_floats(fw), _floats(fw), _floats(fw),
                                                        value=None),
                                  r"addcdiv\(\): argument 'value' must be Number, not NoneType"),
    "div with an unknown rounding mode": (lambda fw: fw.div(_floats(fw), 2.0,
                                                            rounding_mode="round"),
                                          r"div expected rounding_mode to be one of None, "
                                          r"'trunc', or 'floor' but found 'round'"),
    "div with a numeric rounding mode": (lambda fw: fw.div(_floats(fw), 2.0, rounding_mode=3),
                                         r"rounding_mode"),
    "round to float decimals": (lambda fw: fw.round(_floats(fw), decimals=1.5), r"decimals"),
    "logit with a string eps": (lambda fw: fw.logit(_floats(fw), eps="a"),
                                r"logit\(\): argument 'eps' must be float, not str"),
    "nan_to_num with a string": (lambda fw: fw.nan_to_num(_floats(fw), nan="a"),
                                 r"nan_to_num\(\): argument 'nan' must be float, not str"),
    "isclose with a negative rtol": (lambda fw: fw.isclose(_floats(fw), _floats(fw), rtol=-1.0),
                                     r"rtol must be greater than or equal to zero, but got -1"),
    "allclose with a string atol": (lambda fw: fw.allclose(_floats(fw), _floats(fw), atol="a"),
                                    r"allclose\(\): argument 'atol' must be float, not str"),
    "clamp without bounds": (lambda fw: fw.clamp(_floats(fw)),
                             r"At least one of 'min' or 'max' must not be None"),
    "floor_divide backward": (lambda fw: (fw.ones(2, requires_grad=True) // 2).sum().backward(),
                              r"derivative for aten::floor_divide is not implemented"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_misuse_raises_what_torch_raises(name, torch):
    make, pattern = CASES[name]
    with pytest.raises(Exception) as torch_error:
        make(torch)
    expected = next(base for base in torch_error.type.__mro__ if base.__module__ == "builtins")
    with pytest.raises(Exception) as ember_error:
        make(ember)
    assert issubclass(ember_error.type, expected), \
        f"{name}: ember raised {ember_error.type.__name__}: {ember_error.value}; torch raised " \
        f"{torch_error.type.__name__}: {torch_error.value}"
    assert ember_error.type.__module__ == "builtins", \
        f"{name}: an internal {ember_error.type.__module__} error escaped: {ember_error.value}"
    if pattern is not None:
        assert torch_error.match(pattern), f"{name}: the pattern misses torch's message"
        assert ember_error.match(pattern), f"{name}: ember said {ember_error.value}"


# name -> (the tensor, the in-place call that must fail and leave it as it was)
INPLACE = {
    "add_ of a shape it cannot take": (_floats, lambda fw, x: x.add_(fw.ones(2, 3))),
    "clamp_ by a string": (_floats, lambda fw, x: x.clamp_(min="a")),
    "ints sqrt_": (_ints, lambda fw, x: x.sqrt_()),
    "ints fmod_ zero": (_ints, lambda fw, x: x.fmod_(0)),
    "round_ to float decimals": (_floats, lambda fw, x: x.round_(decimals=1.5)),
    "lerp_ to another dtype": (_floats, lambda fw, x: x.lerp_(x.double(), 0.5)),
    "atan2_ of another shape": (_floats, lambda fw, x: x.atan2_(fw.ones(2))),
    "pow_ of a string": (_floats, lambda fw, x: x.pow_("a")),
    "addcmul_ of None": (_floats, lambda fw, x: x.addcmul_(x, None)),
    "abs_ of bools": (_bools, lambda fw, x: x.abs_()),
    "nan_to_num_ with a string": (_floats, lambda fw, x: x.nan_to_num_(posinf="a")),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_failed_inplace_call_changes_nothing(name, torch):
    make, call = INPLACE[name]
    with pytest.raises(Exception) as torch_error:
        call(torch, make(torch))
    expected = next(base for base in torch_error.type.__mro__ if base.__module__ == "builtins")
    tensor = make(ember)
    before = tensor.numpy().copy()
    version = tensor._version
    with pytest.raises(expected):
        call(ember, tensor)
    np.testing.assert_array_equal(tensor.numpy(), before)
    assert tensor.dtype == ember.from_numpy(before).dtype
    assert tensor._version == version
