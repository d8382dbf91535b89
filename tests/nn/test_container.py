"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn


def _names(module):
    return list(module._modules)


def test_sequential_runs_in_order_and_indexes():
    first, second, third = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
    model = nn.Sequential(first, second, third)
    x = ember.randn(5, 3)
    expected = third(second(first(x)))
    np.testing.assert_array_equal(model(x).detach().numpy(), expected.detach().numpy())
    assert len(model) == 3 and model[0] is first and model[-1] is third
    assert list(model) == [first, second, third]
    sliced = model[1:]
    assert isinstance(sliced, nn.Sequential) and _names(sliced) == ["1", "2"]
    assert sliced[0] is second
    with pytest.raises(IndexError, match="index 3 is out of range"):
        model[3]
    with pytest.raises(IndexError, match="index -4 is out of range"):
        model[-4]


def test_sequential_from_ordered_dict_keeps_names():
    model = nn.Sequential(OrderedDict([("encode", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert _names(model) == ["encode", "act"]
    assert model.encode is model[0]
    assert list(model.state_dict()) == ["encode.weight", "encode.bias"]


def test_sequential_mutation_matches_torch(torch):
    def build(library):
        return library.nn.Sequential(library.nn.ReLU(), library.nn.Tanh(), library.nn.Sigmoid(),
                                     library.nn.Identity())

    ours, theirs = build(ember), build(torch)
    for model, library in ((ours, ember), (theirs, torch)):
        del model[1]
        model.append(library.nn.ELU())
        model.insert(1, library.nn.SiLU())
        model.insert(-1, library.nn.GELU())
        model[0] = library.nn.ReLU6()
        model.pop(2)
        model.extend([library.nn.Mish()])
        del model[0:1]
    assert repr(ours) == repr(theirs)
    assert _names(ours) == list(theirs._modules)
    combined_ours = ours + nn.Sequential(nn.Softplus())
    combined_theirs = theirs + torch.nn.Sequential(torch.nn.Softplus())
    assert repr(combined_ours) == repr(combined_theirs)
    with pytest.raises(ValueError, match="add operator supports only objects of Sequential"):
        ours + nn.ModuleList()
    with pytest.raises(IndexError, match="Index out of range"):
        ours.insert(20, nn.ReLU())


def test_module_list_behaves_like_list_and_repr_matches_torch(torch):
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh(), nn.Tanh()])
    layers.insert(0, nn.Sigmoid())
    assert len(layers) == 7 and isinstance(layers[0], nn.Sigmoid)
    assert isinstance(layers[-1], nn.Tanh)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    popped = layers.pop(0)
    assert isinstance(popped, nn.Sigmoid) and _names(layers) == [str(i) for i in range(6)]
    del layers[-2:]
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)] + [torch.nn.ReLU()])
    assert repr(layers) == repr(theirs)
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())
    assert [name for name, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers += [nn.ReLU()]
    assert len(layers) == 5
    assert len(layers + nn.ModuleList([nn.ReLU()])) == 6
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        layers.extend(3)


def test_module_dict():
    modules = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
    assert list(modules) == ["b", "a"] and "a" in modules and len(modules) == 2
    modules["c"] = nn.Tanh()
    modules.update([("d", nn.Sigmoid())])
    assert list(modules.keys()) == ["b", "a", "c", "d"]
    assert isinstance(modules.pop("b"), nn.ReLU)
    assert list(modules.state_dict()) == ["a.weight", "a.bias"]
    del modules["c"]
    assert [key for key, _ in modules.items()] == ["a", "d"]
    with pytest.raises(ValueError, match="has length 3; 2 is required"):
        modules.update([("x", nn.ReLU(), 1)])
    modules.clear()
    assert len(modules) == 0


def test_parameter_list_and_dict_state_dict_match_torch(torch):
    ours = nn.Module()
    ours.plist = nn.ParameterList([nn.Parameter(ember.randn(2, 3)), ember.zeros(4)])
    ours.pdict = nn.ParameterDict({"scale": ember.ones(2), "shift": nn.Parameter(ember.zeros(2))})
    theirs = torch.nn.Module()
    theirs.plist = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(2, 3)),
                                           torch.zeros(4)])
    theirs.pdict = torch.nn.ParameterDict({"scale": torch.ones(2),
                                           "shift": torch.nn.Parameter(torch.zeros(2))})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert isinstance(ours.plist[1], nn.Parameter) and ours.plist[1].requires_grad
    assert isinstance(ours.pdict["scale"], nn.Parameter)
    assert len(list(ours.parameters())) == 4
    assert repr(ours).replace("ember.", "torch.") == repr(theirs)


def test_parameter_list_and_dict_operations():
    plist = nn.ParameterList()
    plist.append(nn.Parameter(ember.ones(1)))
    plist.extend([ember.zeros(2), ember.zeros(3)])
    assert len(plist) == 3 and [p.shape[0] for p in plist] == [1, 2, 3]
    assert len(plist[1:]) == 2
    plist[0] = ember.full((5,), 2.0)
    assert plist[0].shape == (5,) and isinstance(plist[0], nn.Parameter)
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable"):
        plist.extend(ember.zeros(2))
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        plist()
    pdict = nn.ParameterDict()
    pdict["a"] = ember.zeros(1)
    assert pdict.setdefault("b", ember.ones(1)) is pdict["b"]
    assert list(pdict) == ["a", "b"] and pdict.get("z") is None
    key, value = pdict.popitem()
    assert key == "b" and isinstance(value, nn.Parameter)
    with pytest.raises(TypeError, match="cannot be used as a key as it is not a string"):
        pdict[1] = ember.zeros(1)
    copied = pdict.copy()
    assert copied["a"] is pdict["a"]
    pdict.clear()
    assert len(pdict) == 0
