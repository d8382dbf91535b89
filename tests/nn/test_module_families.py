"""The helpers of the layer families in ember.nn.modules.utils: constants by class keyword
(``_Family``) and the options part of a repr (``_changed_options``)."""
import pytest

import ember.nn as nn
import ember.nn.functional as F
from ember.nn.modules.utils import _Family, _changed_options


def _double(value):
    return 2 * value


class _Scaled(_Family, nn.Module):
    _dims = 0


def test_family_keywords_set_the_declared_class_constants():
    class Scaled2d(_Scaled, functional=_double, dims=2):
        pass

    assert Scaled2d._functional is _double  # a staticmethod: the plain function, not a method
    assert Scaled2d()._functional(3) == 6
    assert Scaled2d._dims == 2
    assert _Scaled._functional is None and _Scaled._dims == 0


def test_family_refuses_a_keyword_it_does_not_declare():
    with pytest.raises(TypeError, match="_Scaled takes no class keyword 'mode'"):
        class Scaled(_Scaled, mode="reflect"):  # noqa: F841
            pass


def test_library_families_carry_their_constants():
    assert nn.MaxPool2d._functional is F.max_pool2d
    assert nn.Dropout3d._functional is F.dropout3d
    assert nn.ConvTranspose3d._functional is F.conv_transpose3d
    assert nn.ConvTranspose3d._spatial_dims == 3
    assert (nn.ReflectionPad2d._mode, nn.ReflectionPad2d._dims) == ("reflect", 2)
    assert (nn.ZeroPad3d._mode, nn.ZeroPad3d._dims) == ("constant", 3)
    assert isinstance(nn.ZeroPad2d(1), nn.ConstantPad2d)


def test_changed_options_compares_none_and_bool_defaults_by_identity():
    module = nn.Module()
    module.bias = 1
    module.dropout = 0.0
    module.padding_idx = None
    module.norm_type = 2.0
    defaults = (("bias", True), ("dropout", 0), ("padding_idx", None), ("norm_type", 2))
    assert _changed_options(module, defaults) == ", bias=1"
    module.padding_idx = 0
    module.norm_type = "2"
    assert _changed_options(module, defaults, repr) == ", bias=1, padding_idx=0, norm_type='2'"


@pytest.mark.parametrize("expression", [
    "GRU(2, 3, 2, False, True, 0.5, True)",
    "LSTM(2, 3, proj_size=2, dropout=0.0)",
    "Embedding(4, 2, sparse=1, norm_type=2.0, scale_grad_by_freq=0)",
    "EmbeddingBag(4, 2, max_norm=1.5, mode='max', padding_idx=-1)",
    "Conv2d(2, 4, 3, padding='same', padding_mode='circular', bias=False)",
    "ConvTranspose1d(2, 4, 3, stride=2, output_padding=1, groups=2)",
])
def test_optional_options_print_as_torch(torch, expression):
    ours = eval("nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
