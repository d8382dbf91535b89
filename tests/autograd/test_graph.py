"""ember.autograd.graph_stats / saved_bytes: nodes and bytes saved for backward behind a tensor."""
import gc

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import GraphStats, graph_stats, saved_bytes


def _nodes_and_saved_arrays(tensor):
    """Every node behind ``tensor`` (through the public next_functions) and its saved arrays."""
    nodes = {}
    stack = [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or hasattr(node, "variable") or id(node) in nodes:
            continue
        nodes[id(node)] = node
        stack.extend(parent for parent, _ in node.next_functions)
    saved = [item for node in nodes.values() for item in (node.saved or ())]
    return nodes, saved


def _saved_size(items):
    return sum(item.nbytes if isinstance(item, np.ndarray) else item._data.nbytes
               for item in items if isinstance(item, (np.ndarray, ember.Tensor)))


def _settled_saved_bytes():
    """saved_bytes() once graphs left unreachable by earlier tests have been collected."""
    gc.collect()
    return saved_bytes()


def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(16, 3))


def test_a_known_graph():
    x = ember.randn(1000, requires_grad=True)
    y = x.exp()  # exp saves its float32 result: 4000 bytes
    assert graph_stats(y) == GraphStats(nodes=1, saved_bytes=4000)
    assert graph_stats(y).nodes == 1 and graph_stats(y).saved_bytes == 4000


def test_model_graph_equals_the_sum_of_saved_array_sizes():
    model = _mlp()
    baseline = _settled_saved_bytes()
    targets = ember.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    loss = nn.functional.cross_entropy(model(ember.randn(8, 6)), targets)
    nodes, saved = _nodes_and_saved_arrays(loss)
    stats = graph_stats(loss)
    assert stats.nodes == len(nodes) > 5
    assert stats.saved_bytes == _saved_size(saved) > 0
    assert saved_bytes() - baseline == stats.saved_bytes


def test_shared_nodes_are_counted_once():
    a = ember.randn(50, requires_grad=True)
    b = ember.randn(50, requires_grad=True)
    product = a * b
    total = (product + product.exp()) * product
    nodes, saved = _nodes_and_saved_arrays(total)
    assert graph_stats(total).nodes == len(nodes) == 4  # mul, exp, add, mul
    assert graph_stats(total).saved_bytes == _saved_size(saved)


@pytest.mark.parametrize("context", [ember.no_grad, ember.inference_mode])
def test_nothing_is_saved_without_grad_mode(context):
    model = _mlp()
    baseline = _settled_saved_bytes()
    model.eval()
    with context():
        output = model(ember.randn(8, 6))
    assert graph_stats(output) == (0, 0)
    assert saved_bytes() == baseline


def test_backward_frees_the_saved_arrays():
    model = _mlp()
    baseline = _settled_saved_bytes()
    loss = model(ember.randn(8, 6)).square().mean()
    held = graph_stats(loss).saved_bytes
    assert held > 0 and saved_bytes() == baseline + held
    loss.backward(retain_graph=True)
    assert graph_stats(loss).saved_bytes == held
    loss.backward()
    assert graph_stats(loss).saved_bytes == 0
    assert graph_stats(loss).nodes > 0  # the structure is still there, only the arrays went
    assert saved_bytes() == baseline


def test_dropping_an_unused_graph_releases_its_bytes():
    baseline = _settled_saved_bytes()
    output = _mlp()(ember.randn(8, 6))
    assert saved_bytes() > baseline
    del output
    gc.collect()
    assert saved_bytes() == baseline


def test_deep_graphs_do_not_recurse():
    x = ember.randn(3, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    stats = graph_stats(y)
    assert stats.nodes == 5000


def test_leaves_and_errors():
    leaf = ember.randn(3, requires_grad=True)
    assert graph_stats(leaf) == (0, 0)
    assert graph_stats(ember.randn(3)) == (0, 0)
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        graph_stats([1, 2])


@pytest.mark.parametrize("budget", [0.0, 1, 0.4, 1.5, -0.1, True, "0.5"])
def test_region_activation_memory_budget_in_eager_mode_raises_as_torch(torch, budget):
    """Outside a compiled region PyTorch refuses the budget (after checking it): same error."""
    with pytest.raises(Exception) as expected:
        with torch.autograd.graph.region_activation_memory_budget(budget):
            pass
    with pytest.raises(type(expected.value)) as got:
        with ember.autograd.graph.region_activation_memory_budget(budget):
            pass
    assert str(got.value) == str(expected.value)


def _versions(library):
    graph = library.autograd.graph
    x = library.ones(3)
    view = x[1:]
    graph.increment_version(x)
    graph.increment_version([x, view])
    counts = [x._version, view._version]
    with library.inference_mode():
        frozen = library.ones(2)
    graph.increment_version(frozen)
    errors = []
    for argument in (3, [library.ones(1), 3]):
        try:
            graph.increment_version(argument)
        except RuntimeError as error:
            errors.append(str(error))
    saved = library.ones(2, requires_grad=True).clone()
    out = saved.exp()
    graph.increment_version(out)
    try:
        out.sum().backward()
    except RuntimeError as error:
        errors.append(type(error).__name__)
    return counts, errors


def test_increment_version_like_torch(torch):
    """A bumped saved tensor fails backward's check as an in-place change does."""
    assert _versions(ember) == _versions(torch)
