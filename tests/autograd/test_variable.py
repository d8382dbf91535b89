"""``Variable``, the pre-0.4 wrapper old scripts import: a detached tensor sharing the data,
against PyTorch's."""
import warnings

import pytest

import ember
from ember.autograd import Variable


def test_variable_is_a_detached_tensor_sharing_data(torch):
    for framework in (ember, torch):
        source = framework.ones(2)
        plain = framework.autograd.Variable(source)
        leaf = framework.autograd.Variable(source, True)
        assert type(plain) is framework.Tensor and plain is not source
        assert (plain.requires_grad, leaf.requires_grad, leaf.is_leaf) == (False, True, True)
        leaf.data[0] = 5.0
        assert source.tolist() == [5.0, 1.0]
        graph = (framework.ones(2, requires_grad=True) * 2)
        detached = framework.autograd.Variable(graph)
        assert (detached.grad_fn, detached.requires_grad) == (None, False)
        assert isinstance(source, framework.autograd.Variable)
        assert isinstance(framework.nn.Parameter(source), framework.autograd.Variable)
        assert not isinstance([1.0], framework.autograd.Variable)
        assert framework.autograd.Variable().shape == (0,)


def test_variable_errors_and_volatile_match_torch(torch):
    for framework in (ember, torch):
        with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
            framework.autograd.Variable([1.0, 2.0])
        with pytest.raises(RuntimeError, match="floating point"):
            framework.autograd.Variable(framework.ones(2).long(), requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            framework.autograd.Variable(framework.ones(2), volatile=True)
        assert [str(warning.message) for warning in caught] == [
            "volatile was removed and now has no effect. Use `with torch.no_grad():` instead."]


def test_volatile_attribute_reads_false_and_warns_like_torch(torch):
    """0.3-era code reads ``x.volatile`` (``if not x.volatile: ...``) and sets it."""
    messages = []
    for framework in (ember, torch):
        tensor = framework.ones(2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = (tensor.volatile, framework.autograd.Variable(tensor).volatile)
            tensor.volatile = True
            values += (tensor.volatile, tensor.requires_grad)
        assert values == (False, False, False, False)
        messages.append([str(warning.message).split(" (Triggered")[0] for warning in caught])
    assert messages[0] == messages[1] and len(messages[0]) == 4


def test_variable_gradients_reach_the_new_leaf():
    leaf = Variable(ember.tensor([1.0, 2.0]), requires_grad=True)
    (leaf * leaf).sum().backward()
    assert leaf.grad.tolist() == [2.0, 4.0]
