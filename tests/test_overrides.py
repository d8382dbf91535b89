"""The __torch_function__ protocol (ember.overrides) against PyTorch: Tensor subclasses keep their
type through ops, a subclass's __torch_function__ and a TorchFunctionMode see the calls PyTorch
shows them, and nothing is dispatched until a program asks for it."""
import numpy as np
import pytest

import ember
from ember import overrides


@pytest.fixture(autouse=True)
def _protocol_off_afterwards():
    """Defining a subclass turns dispatch on for the whole process: undo it after each test."""
    yield
    overrides._deactivate()


def _both():
    torch = pytest.importorskip("torch")
    return [torch, ember]


def _subclass(library, body=None):
    return type("Marked", (library.Tensor,), dict(body or {}))


def test_nothing_is_wrapped_until_a_subclass_is_defined():
    original_add, original_sum = ember.add, ember.Tensor.sum
    assert not overrides._active[0]

    class OwnParameter(ember.nn.Parameter):  # opts out, as Parameter does: no dispatch
        pass

    assert not overrides._active[0] and ember.add is original_add
    assert type(OwnParameter(ember.ones(2)) * 2) is ember.Tensor
    _subclass(ember)
    assert overrides._active[0] and ember.add is not original_add
    overrides._deactivate()
    assert ember.add is original_add and ember.Tensor.sum is original_sum


@pytest.mark.parametrize("library", ["torch", "ember"])
def test_as_subclass_aliases_memory_version_and_graph(library):
    library = _both()[0] if library == "torch" else ember
    marked = _subclass(library)
    leaf = library.tensor([1.0, 2.0, 3.0], requires_grad=True)
    alias = leaf.as_subclass(marked)
    assert type(alias) is marked and alias.requires_grad and not alias.is_leaf
    assert type(alias.grad_fn).__name__ == "AliasBackward0" or \
        alias.grad_fn.name() == "AliasBackward0"
    (alias * 2).sum().backward()
    assert leaf.grad.tolist() == [2.0, 2.0, 2.0]
    plain = library.zeros(2)
    view = plain.as_subclass(marked)
    with library.no_grad():
        plain.add_(1)
    assert view.tolist() == [1.0, 1.0] and view._version == plain._version == 1
    with pytest.raises(TypeError, match="does not inherit from Tensor"):
        plain.as_subclass(int)


def test_results_keep_the_subclass_like_torch():
    outcomes = []
    for library in _both():
        marked = _subclass(library)
        x = library.arange(6.0).reshape(2, 3).as_subclass(marked)
        plain = library.ones(2, 3)
        linear = library.nn.Linear(3, 2)
        results = {
            "operator": x + 1, "reflected": 2 * x, "method": x.sum(1),
            "function": library.add(x, 1),
            "functional": library.nn.functional.relu(x), "layer": linear(x),
            "mixed cat": library.cat([plain, x]), "index": x[0], "transpose": x.T,
            "clone": x.clone(), "max values": x.max(0).values,
            "unbind": x.unbind()[1], "comparison": x > 2,
        }
        with library.overrides.DisableTorchFunctionSubclass() if library is ember else \
                library._C.DisableTorchFunctionSubclass():
            results["disabled"] = x + 1
        outcomes.append({key: (type(value).__name__ if type(value) is not marked else "Marked",
                               np.round(np.asarray(value.detach().numpy(), float), 5).tolist())
                         for key, value in results.items()})
        outcomes[-1]["repr"] = repr(x).replace("torch", "ember")
        outcomes[-1]["shape type"] = type(x.shape).__name__
    assert outcomes[0] == outcomes[1]


def _logged(library, calls):
    class Logged(library.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            calls.append((func.__name__, [kind.__name__ for kind in types]))
            return super().__torch_function__(func, types, args, kwargs or {})
    return Logged


def test_a_subclass_sees_the_calls_torch_shows_it():
    traces = []
    for library in _both():
        calls = []
        logged = _logged(library, calls)
        x = library.tensor([[1.0, -2.0], [3.0, 4.0]]).as_subclass(logged)
        y = (x @ x).relu().sum()
        library.add(x, 1)
        x[0]
        x.view(4)
        library.nn.functional.linear(x, library.ones(3, 2))
        library.cat([library.zeros(2, 2), x])
        len(x)
        traces.append((calls, type(y).__name__, float(y)))
    assert traces[0] == traces[1]


def test_overriding_one_function_and_giving_up_on_others():
    answers = []
    for library in _both():
        class OnlyMean(library.Tensor):
            @classmethod
            def __torch_function__(cls, func, types, args=(), kwargs=None):
                if func is library.mean:
                    return "mean handled"
                if func is library.add:
                    return NotImplemented
                return super().__torch_function__(func, types, args, kwargs or {})

        x = library.ones(3).as_subclass(OnlyMean)
        with pytest.raises(TypeError) as refused:
            library.add(x, 1)
        answers.append((library.mean(x), type(x.mean()).__name__, float(x.mean()),
                        str(refused.value).replace("ember", "torch").replace(
                            "tests.test_overrides.test_overriding_one_function_and_giving_up_on_"
                            "others.<locals>", "__main__")))
    assert answers[0] == answers[1]


def test_a_mode_sees_calls_on_plain_tensors():
    traces = []
    for library in _both():
        calls = []
        mode_base = library.overrides.TorchFunctionMode

        class Recorder(mode_base):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                calls.append(func.__name__)
                return func(*args, **(kwargs or {}))

        x = library.ones(2, 2)
        with Recorder():
            y = library.nn.functional.softmax(library.mm(x, x), dim=1)
            z = library.add(y, 1)
        after = library.add(x, 1)
        traces.append((calls, z.tolist(), type(after).__name__))
    assert traces[0] == traces[1]


def test_has_torch_function_and_tensor_likes():
    answers = []
    for library in _both():
        marked = _subclass(library)
        plain = library.ones(1)
        parameter = library.nn.Parameter(library.ones(1))
        answers.append((library.overrides.has_torch_function((plain, parameter)),
                        library.overrides.has_torch_function((plain, plain.as_subclass(marked))),
                        library.overrides.is_tensor_like(plain),
                        library.overrides.is_tensor_like(3)))
    assert answers[0] == answers[1]


def test_make_subclass_builds_a_leaf_over_the_same_memory():
    torch = pytest.importorskip("torch")
    shapes = []
    for library in (torch, ember):
        marked = _subclass(library)
        data = library.zeros(2)
        made = library.Tensor._make_subclass(marked, data, True)
        with library.no_grad():
            data.add_(3)
        shapes.append((type(made).__name__, made.requires_grad, made.is_leaf, made.tolist()))
    assert shapes[0] == shapes[1]


def test_subclasses_built_the_ways_programs_build_them():
    outcomes = []
    for library in _both():
        class Forwarding(library.Tensor):
            def __new__(cls, *args, **kwargs):
                return super().__new__(cls, *args, **kwargs)

            def __init__(self, *args, **kwargs):
                super().__init__()

        class Optional(library.Tensor):
            @staticmethod
            def __new__(cls, elem, *, requires_grad=None):
                if requires_grad is None:
                    return super().__new__(cls, elem)
                return cls._make_subclass(cls, elem, requires_grad)

        class Tagged(library.Tensor):
            def __new__(cls, data, tag=None):
                tagged = library.as_tensor(data).as_subclass(cls)
                tagged.tag = tag
                return tagged

            def __init__(self, data, tag=None):
                pass

        forwarded = Forwarding(library.tensor([1.0, 2.0]))
        plain = Optional(library.tensor([3.0]))
        leaf = Optional(library.tensor([4.0]), requires_grad=True)
        tagged = Tagged([5.0, 6.0], tag="x")
        outcomes.append([
            (type(forwarded).__name__, forwarded.tolist(), type(forwarded * 2).__name__),
            (plain.tolist(), leaf.requires_grad, leaf.is_leaf, type(plain + leaf).__name__),
            (tagged.tag, tagged.tolist(), type(tagged.sum()).__name__,
             getattr(tagged.sum(), "tag", None))])
    assert outcomes[0] == outcomes[1]


def test_properties_dispatch_and_factories_do_not():
    outcomes = []
    for library in _both():
        calls = []
        logged = _logged(library, calls)
        x = library.ones(2, 3).as_subclass(logged)
        x.shape, x.dtype, x.T
        shape_calls = list(calls)
        results = [library.zeros_like(x), library.tensor([1.0]), x.new_zeros(2), x.grad,
                   library.as_tensor(x), x.new_full((2,), 3.0), x.unflatten(1, (3, 1)),
                   next(iter(x)), library.nn.Parameter(library.ones(2)).new_ones(2)]
        outcomes.append((shape_calls, [type(result).__name__ for result in results],
                         len(library.overrides.get_ignored_functions()) > 0,
                         library.zeros in library.overrides.get_ignored_functions()))
    assert outcomes[0] == outcomes[1]


def test_resolve_name_and_the_base_mode():
    answers = []
    for library in _both():
        resolve = library.overrides.resolve_name
        names = [resolve(library.add), resolve(library.Tensor.add),
                 resolve(library.nn.functional.relu), resolve(len)]
        with library.overrides.BaseTorchFunctionMode():
            value = (library.ones(1) + 1).tolist()
        _subclass(library)  # and with dispatch on
        names_on = [resolve(library.add), resolve(library.Tensor.add)]
        answers.append(([name and name.replace("ember", "torch") for name in names], value,
                        [name and name.replace("ember", "torch") for name in names_on]))
    assert answers[0] == answers[1]
