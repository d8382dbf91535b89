"""ember's dtypes (ember/_dtype.py): defaults and aliases as in PyTorch, finfo and iinfo."""
import copy
import pickle

import numpy as np
import pytest

import ember
from ops.op_table import BadInputChecks, ValueChecks
from tests.conftest import assert_raises_like_torch


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
    "iinfo_bfloat16": lambda fw: fw.iinfo(fw.bfloat16),
}


VALUES = {
    "finfo_iinfo": lambda fw: tuple(
        (info.bits, info.eps, info.max, info.min, info.tiny, info.smallest_normal,
         info.resolution, str(info.dtype)) for info in (fw.finfo(fw.float32), fw.finfo(),
                                                        fw.finfo(fw.float64))) + tuple(
        (info.bits, info.min, info.max, str(info.dtype))
        for info in (fw.iinfo(fw.int32), fw.iinfo(fw.int64), fw.iinfo(fw.uint8))),
    "finfo_bfloat16": lambda fw: tuple(
        (info.bits, info.eps, info.max, info.min, info.tiny, info.smallest_normal,
         info.resolution, str(info.dtype), repr(info).replace("torch.", "ember."))
        for info in (fw.finfo(fw.bfloat16),)),
    "promote_types": lambda fw: tuple(
        str(fw.promote_types(a, b)).split(".")[-1]
        for a in (fw.bfloat16, fw.float16, fw.float32, fw.int64, fw.bool, fw.uint8)
        for b in (fw.bfloat16, fw.float16, fw.float64, fw.int32, fw.bool)),
    "python_float_dtype": lambda fw: (fw.zeros(2, dtype=float), fw.tensor([1], dtype=float),
                                      fw.ones(2).to(float)),
}


class TestDtype(BadInputChecks, ValueChecks):
    """The op-table checks of every entry above."""


# ---- bfloat16 ------------------------------------------------------------------------------------
def _bfloat16_pair(torch, values):
    """The same float32 values as a bfloat16 tensor in each library."""
    values = np.asarray(values, dtype=np.float32)
    return ember.tensor(values).to(ember.bfloat16), torch.tensor(values).to(torch.bfloat16)


def _same_values(ours, theirs):
    """Bit-for-bit the same bfloat16 (or other) values, compared through float32."""
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


PUBLIC_DTYPES = sorted(name for name in dir(ember) if isinstance(getattr(ember, name), ember.dtype))


def test_every_dtype_is_listed():
    assert {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
            "float64", "long", "half", "double"} <= set(PUBLIC_DTYPES)


@pytest.mark.parametrize("name", PUBLIC_DTYPES)
def test_dtypes_pickle_and_copy_as_themselves(name):
    value = getattr(ember, name)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(value, protocol=protocol)) is value, protocol
    assert copy.copy(value) is value and copy.deepcopy(value) is value
    assert copy.deepcopy({"dtype": value, "pair": (value, [value])}) == {
        "dtype": value, "pair": (value, [value])}


def test_bfloat16_is_lazy_and_exists():
    import subprocess
    import sys
    code = ("import sys, ember; assert 'ml_dtypes' not in sys.modules; "
            "assert ember.bfloat16.is_floating_point and ember.bfloat16.itemsize == 2; "
            "assert 'ml_dtypes' not in sys.modules; ember.zeros(1, dtype=ember.bfloat16); "
            "assert 'ml_dtypes' in sys.modules")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    assert repr(ember.bfloat16) == "ember.bfloat16"
    assert ember.bfloat16 is ember.BFloat16Tensor.dtype


def test_bfloat16_rounding_and_casts_like_torch(torch):
    values = np.random.default_rng(0).standard_normal(1000).astype(np.float32) * 100
    values[:4] = [1.00390625, 1.01171875, -0.0, 65504.0]  # ties round to even
    ours, theirs = _bfloat16_pair(torch, values)
    _same_values(ours, theirs)
    _same_values(ours.to(ember.int64), theirs.to(torch.int64))
    _same_values(ember.tensor(values.tolist(), dtype=ember.bfloat16),
                 torch.tensor(values.tolist(), dtype=torch.bfloat16))
    _same_values(ember.tensor(values.astype(np.float64)).bfloat16(),
                 torch.tensor(values.astype(np.float64)).bfloat16())
    _same_values(ours.double(), theirs.double())
    assert ours.type() == "ember.BFloat16Tensor"
    _same_values(ember.tensor([1.5, 2.5]).type(ember.bfloat16),
                 torch.tensor([1.5, 2.5]).type(torch.bfloat16))
    _same_values(ember.BFloat16Tensor([1.1, 2.2]), torch.BFloat16Tensor([1.1, 2.2]))


@pytest.mark.parametrize("values", [
    [1.1, 2.2, 3.3], [[1e-5, 1000.0]], [1.0, 2.0, -3.0], [0.5], 7.25, [], [float("inf"), 1.0],
    [1e30, 1.0], list(np.linspace(-3, 3, 2000))], ids=lambda values: str(values)[:20])
def test_bfloat16_prints_as_torch(torch, values):
    ours, theirs = _bfloat16_pair(torch, values)
    assert repr(ours) == repr(theirs).replace("torch.", "ember.")
    assert repr(ours.requires_grad_()) == repr(theirs.requires_grad_()).replace("torch.", "ember.")


@pytest.mark.parametrize("operation", ["add", "sub", "mul", "div", "neg", "exp", "tanh", "relu"])
def test_bfloat16_elementwise_like_torch(torch, operation):
    generator = np.random.default_rng(1)
    a_values = generator.standard_normal((7, 9)).astype(np.float32)
    b_values = generator.uniform(0.5, 2.0, (7, 9)).astype(np.float32)
    a, torch_a = _bfloat16_pair(torch, a_values)
    b, torch_b = _bfloat16_pair(torch, b_values)
    if operation in ("add", "sub", "mul", "div"):
        _same_values(getattr(ember, operation)(a, b), getattr(torch, operation)(torch_a, torch_b))
        _same_values(getattr(ember, operation)(a, 3), getattr(torch, operation)(torch_a, 3))
        _same_values(getattr(ember, operation)(a, 0.3), getattr(torch, operation)(torch_a, 0.3))
    else:
        _same_values(getattr(ember, operation)(a), getattr(torch, operation)(torch_a))


def _within_one_ulp(ours, theirs):
    """bfloat16 results that accumulate differently: at most one bfloat16 step apart."""
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    mine = ours.float().numpy()
    other = theirs.float().numpy()
    np.testing.assert_allclose(mine, other, rtol=2.0 ** -8, atol=1e-30)


def test_bfloat16_matmul_and_reductions_like_torch(torch):
    generator = np.random.default_rng(2)
    a, torch_a = _bfloat16_pair(torch, generator.standard_normal((8, 64)))
    b, torch_b = _bfloat16_pair(torch, generator.standard_normal((64, 5)))
    _within_one_ulp(a @ b, torch_a @ torch_b)
    _within_one_ulp(a.sum(), torch_a.sum())
    _within_one_ulp(a.sum(dim=1), torch_a.sum(dim=1))
    _within_one_ulp(a.mean(), torch_a.mean())
    _within_one_ulp(a.mean(dim=0, keepdim=True), torch_a.mean(dim=0, keepdim=True))
    # Accumulated in float32: 4096 ones sum to 4096 (a bfloat16 running sum stops at 256).
    _same_values(ember.ones(4096, dtype=ember.bfloat16).sum(),
                 torch.ones(4096, dtype=torch.bfloat16).sum())


def test_bfloat16_promotion_like_torch(torch):
    pairs = [("bfloat16", "float16"), ("bfloat16", "float32"), ("bfloat16", "int64"),
             ("int32", "bfloat16"), ("bool", "bfloat16"), ("bfloat16", "float64")]
    for left, right in pairs:
        ours = ember.ones(2, dtype=getattr(ember, left)) + ember.ones(2, dtype=getattr(ember, right))
        theirs = torch.ones(2, dtype=getattr(torch, left)) + \
            torch.ones(2, dtype=getattr(torch, right))
        assert str(ours.dtype)[6:] == str(theirs.dtype)[6:], (left, right)
    scalar = ember.ones(2, dtype=ember.bfloat16) * ember.tensor(2.0)  # 0-d float32
    assert scalar.dtype is ember.bfloat16
    assert (ember.ones(2, dtype=ember.int64) * ember.tensor(2.0, dtype=ember.bfloat16)).dtype \
        is ember.bfloat16


def test_bfloat16_training_step_like_torch(torch):
    """A linear layer in bfloat16: forward, backward and an SGD step as torch computes them."""
    generator = np.random.default_rng(3)
    weight = generator.standard_normal((4, 6)).astype(np.float32)
    inputs = generator.standard_normal((5, 6)).astype(np.float32)
    results = []
    for fw in (ember, torch):
        layer = fw.nn.Linear(6, 4, bias=False)
        with fw.no_grad():
            layer.weight.copy_(fw.tensor(weight))
        layer = layer.to(fw.bfloat16)
        loss = layer(fw.tensor(inputs).to(fw.bfloat16)).square().mean()
        loss.backward()
        fw.optim.SGD(layer.parameters(), lr=0.1).step()
        results.append((loss, layer.weight.grad, layer.weight))
    for ours, theirs in zip(*results):
        _within_one_ulp(ours.detach(), theirs.detach())


def test_bfloat16_save_and_load(tmp_path, torch):
    values = ember.tensor([1.1, -2.5, 3e38, float("nan")], dtype=ember.bfloat16)
    ember.save({"values": values, "dtype": ember.bfloat16}, tmp_path / "ours.safetensors")
    loaded = ember.load(tmp_path / "ours.safetensors")
    assert loaded["dtype"] is ember.bfloat16 and loaded["values"].dtype is ember.bfloat16
    np.testing.assert_array_equal(loaded["values"].float().numpy(), values.float().numpy())
    torch.save({"w": torch.tensor([1.1, -2.5], dtype=torch.bfloat16)}, tmp_path / "theirs.pt")
    from_torch = ember.load(tmp_path / "theirs.pt")["w"]
    assert from_torch.dtype is ember.bfloat16
    assert from_torch.float().tolist() == [1.1015625, -2.5]


UNSIGNED_SHELL = ["uint16", "uint32", "uint64"]


@pytest.mark.parametrize("name", UNSIGNED_SHELL)
def test_unsigned_shell_dtypes_are_torchs(torch, name):
    """uint16/32/64 as PyTorch 2.13 has them: made, converted, copied, indexed, printed and
    summed (into int64); multiplied, compared for equality and divided (into float)."""
    ours, theirs = getattr(ember, name), getattr(torch, name)
    assert (ours.itemsize, ours.is_signed, ours.is_floating_point) == \
        (theirs.itemsize, theirs.is_signed, theirs.is_floating_point)
    assert (ember.iinfo(ours).min, ember.iinfo(ours).max, ember.iinfo(ours).bits) == \
        (torch.iinfo(theirs).min, torch.iinfo(theirs).max, torch.iinfo(theirs).bits)
    calls = ["fw.tensor([1, 2, 65535], dtype=d)", "fw.zeros(2, dtype=d)",
             "fw.full((2,), 7, dtype=d)",
             "fw.tensor([1.7, 2.2]).to(d)", "fw.tensor([-1]).to(d)",
             "fw.tensor([1, 2, 3], dtype=d) * 2", "fw.tensor([1, 2, 3], dtype=d).sum()",
             "fw.tensor([1, 2, 3], dtype=d).cumsum(0)", "fw.tensor([1, 2, 3], dtype=d) == 2",
             "fw.tensor([1, 2, 3], dtype=d) / 2", "fw.tensor([1, 2, 3], dtype=d).float()",
             "fw.cat([fw.tensor([1], dtype=d), fw.tensor([2], dtype=d)])",
             "fw.tensor([3, 1, 2], dtype=d).sort().values", "fw.tensor([1, 2], dtype=d)[1:]",
             "fw.from_numpy(np.array([5, 6], dtype=name))"]
    for call in calls:
        mine = eval(call, {"fw": ember, "d": ours, "np": np, "name": name})
        expected = eval(call, {"fw": torch, "d": theirs, "np": np, "name": name})
        assert str(mine.dtype).split(".")[1] == str(expected.dtype).split(".")[1], call
        assert mine.tolist() == expected.tolist(), call
    assert ember.tensor([1], dtype=ours).type().split(".")[1] == \
        torch.tensor([1], dtype=theirs).type().split(".")[1]
    assert repr(ember.tensor([1, 2], dtype=ours)).replace("ember", "torch") == \
        repr(torch.tensor([1, 2], dtype=theirs))


@pytest.mark.parametrize("call", [
    "fw.promote_types(fw.uint16, fw.int64)", "fw.promote_types(fw.uint32, fw.uint8)",
    "fw.tensor([1], dtype=fw.uint64) + fw.tensor([1, 2])", "fw.tensor([2 ** 64], dtype=fw.uint64)",
    "fw.tensor([-1], dtype=fw.uint64)", "fw.tensor([1.5], dtype=fw.uint64)",
    "fw.tensor([70000], dtype=fw.uint16)", "fw.full((1,), 70000, dtype=fw.uint16)"])
def test_unsigned_shell_dtype_errors_match_torch(torch, call):
    assert_raises_like_torch(lambda: eval(call, {"fw": torch}),
                             lambda: eval(call, {"fw": ember}), same_type=True)


def test_uint64_takes_python_ints_up_to_two_to_the_64(torch):
    values = [2 ** 64 - 1, 2 ** 63, 0]
    assert ember.tensor(values, dtype=ember.uint64).tolist() == \
        torch.tensor(values, dtype=torch.uint64).tolist()
    assert ember.tensor(2 ** 63, dtype=ember.uint64).item() == 2 ** 63
    assert ember.promote_types(ember.uint16, ember.float32) is ember.float32


FLOAT8 = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"]
# Finite values beyond each range, infinities, subnormals, halfway cases, signed zeros and NaN.
_FLOAT8_VALUES = [447, 449, 460, 464, 465, 480, 500, 1e6, float("inf"), -float("inf"), -1e6,
                  1e-9, -1e-9, 0.0009, 0.001953125, 0.0009765625, -0.0, 1.5, -300, 0.3,
                  float("nan")]


def _float8_facts(library, name):
    target = getattr(library, name)
    converted = library.tensor(_FLOAT8_VALUES).to(target)
    from_double = library.tensor(_FLOAT8_VALUES, dtype=library.float64).to(target)
    info = library.finfo(target)
    small = library.tensor([1.5, 0.3, -2.0]).to(target)
    return {
        "bits": converted.view(library.uint8).tolist(),
        "bits from float64": from_double.view(library.uint8).tolist(),
        "back": np.nan_to_num(converted.float().numpy(), nan=-7.0).tolist(),
        "properties": (target.is_floating_point, target.is_complex, target.is_signed,
                       target.itemsize, converted.element_size(), converted.is_floating_point(),
                       converted.type().split(".")[1]),
        "finfo": (info.bits, info.eps, info.max, info.min, info.tiny, info.resolution,
                  info.dtype),
        "made": [library.ones(2, dtype=target).float().tolist(),
                 library.tensor([1.0, 2.5], dtype=target).float().tolist(),
                 library.full((2,), 3.0, dtype=target).float().tolist(),
                 library.tensor([1, 2, 3]).to(target).float().tolist()],
        "moved": [library.cat([small, small[:1]]).float().tolist(),
                  small[1:].clone().float().tolist(), (small == small).tolist(),
                  small[0].item(), small.to(library.bfloat16).float().tolist(),
                  small.double().tolist(),
                  str(library.ones(2, dtype=library.uint8).view(target).dtype).split(".")[1]],
    }


@pytest.mark.parametrize("name", FLOAT8)
def test_float8_dtypes_like_torch(torch, name):
    """Conversion (PyTorch's saturation and NaN codes), properties, finfo, creation, copies."""
    assert _float8_facts(ember, name) == _float8_facts(torch, name)


def _promotion(library, first, second):
    try:
        return library.promote_types(getattr(library, first), getattr(library, second))
    except RuntimeError as error:
        return ("RuntimeError", str(error))


SHELLS = ["uint1", "uint4", "uint7", "int1", "int4", "bits8", "bits16", "bits2x4",
          "float4_e2m1fn_x2", "complex32"]


@pytest.mark.parametrize("name", SHELLS)
def test_shell_dtypes_answer_as_torch(torch, name):
    """The dtypes PyTorch names without CPU kernels (sub-byte, bits, packed float4) and
    complex32: their properties, info and promotion."""
    def facts(library):
        target = getattr(library, name)
        answers = [repr(target).split(".")[1]]
        for attribute in ("is_floating_point", "is_complex", "itemsize", "is_signed"):
            try:
                answers.append(getattr(target, attribute))
            except RuntimeError as error:
                answers.append(str(error))
        for info in (library.iinfo, library.finfo):
            try:
                answers.append(repr(info(target)))
            except TypeError as error:
                answers.append(str(error))
        for other in ("float8_e5m2", "float32", "float64", "complex64", "float16"):
            result = _promotion(library, name, other)
            answers.append(str(result).split(".")[-1] if not isinstance(result, tuple)
                           else result[1][:40] if "INTERNAL" not in result[1] else "refused")
        return answers
    ours, theirs = facts(ember), facts(torch)
    # PyTorch refuses int1..int7 and float4 with others by an internal assert; ember says why
    ours = ["refused" if isinstance(answer, str) and answer.startswith("Promotion from") and
            any(part in name for part in ("int", "float4")) and not name.startswith("uint")
            else answer for answer in ours]
    assert ours == theirs


def test_float8_promotion_and_shell_tensors_refused(torch):
    for first, second in (("float8_e4m3fn", "float32"), ("float8_e5m2", "int64"),
                          ("float8_e5m2", "float8_e4m3fn"), ("bits8", "int64")):
        assert _promotion(ember, first, second) == _promotion(torch, first, second)
    assert ember.promote_types(ember.float8_e5m2, ember.float8_e5m2) is ember.float8_e5m2
    assert ember.chalf is ember.complex32
    for name in ("uint4", "int4", "bits8"):
        # PyTorch makes such a tensor but then cannot print, copy or read it; ember refuses
        # at once, with the error PyTorch gives at the first use.
        with pytest.raises(NotImplementedError):
            str(torch.zeros(2, dtype=getattr(torch, name)))
        with pytest.raises(NotImplementedError, match="not implemented for"):
            ember.zeros(2, dtype=getattr(ember, name))
