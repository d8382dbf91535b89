"""Views made without being recorded (in no_grad or inference_mode) of a tensor that requires
grad: PyTorch's CreationMeta rules, on the Op path and on the fast path of shape ops."""
import copy
import pickle

import numpy as np
import pytest

import ember

NO_GRAD_INPLACE = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. "
    "Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
    "your code by moving both the view and the inplace either both inside the no_grad block (if "
    "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked).")
INFERENCE_INPLACE = (
    "A view was created in inference mode and is being modified inplace in normal mode. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code "
    "by moving both the view and the inplace either both inside the inference_mode block (if "
    "you don't want the inplace to be tracked) or both outside (if you want the inplace to be "
    "tracked).")
BASE_CHANGED = (
    "A view was created in no_grad mode and its base or another view of its base has been "
    "modified inplace with grad mode enabled.")

VIEWS = {
    "view": lambda t: t.view(3, 2),
    "getitem": lambda t: t[0],
    "slice": lambda t: t[:, 1:],
    "newaxis": lambda t: t[:, None],
    "t": lambda t: t.t(),
    "transpose": lambda t: t.transpose(0, 1),
    "permute": lambda t: t.permute(1, 0),
    "mT": lambda t: t.mT,
    "split": lambda t: t.split(1)[0],
    "split_sizes": lambda t: t.split([1, 2], 1)[1],
    "unbind": lambda t: t.unbind()[0],
    "chunk": lambda t: t.chunk(2, 1)[0],
    "unsqueeze": lambda t: t.unsqueeze(0),
    "squeeze": lambda t: t.unsqueeze(1).squeeze(1),
    "expand": lambda t: t.expand(2, 2, 3),
    "reshape": lambda t: t.reshape(6),
    "flatten": lambda t: t.flatten(),
    "narrow": lambda t: t.narrow(0, 0, 1),
    "select": lambda t: t.select(0, 1),
    "as_strided": lambda t: t.as_strided((2,), (1,)),
    "unfold": lambda t: t.unfold(1, 2, 1),
    "movedim": lambda t: t.movedim(0, 1),
    "unflatten": lambda t: t.unflatten(1, (3, 1)),
    "diagonal": lambda t: t.diagonal(),
    "diagonal_offset": lambda t: t.diagonal(1),
}
NOT_VIEWS = {
    "mul": lambda t: t * 2,
    "detach": lambda t: t.detach(),
    "reshape_copy": lambda t: t.t().reshape(6),
    "view_dtype": lambda t: t.view(ember.int32),
    "advanced_index": lambda t: t[[0]],
}


def _bases():
    leaf = ember.ones(2, 3, requires_grad=True)
    return leaf, {"leaf": leaf, "non_leaf": leaf * 1}


@pytest.mark.parametrize("base_kind", ["leaf", "non_leaf"])
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_no_grad_view_requires_grad_is_a_leaf_and_refuses_inplace(name, base_kind):
    leaf, bases = _bases()
    with ember.no_grad():
        view = VIEWS[name](bases[base_kind])
    assert (view.requires_grad, view.is_leaf, view.grad_fn) == (True, True, None)
    with pytest.raises(RuntimeError) as error:
        view.mul_(2)
    assert str(error.value) == NO_GRAD_INPLACE
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        view.numpy()
    out = (view * 2).sum()
    assert out.requires_grad and out.grad_fn is not None
    out.backward()
    assert leaf.grad is None and view.grad is None
    if name != "expand":  # (an expanded view refuses any in-place write)
        with ember.no_grad():
            view.mul_(2)  # allowed where it is not tracked


@pytest.mark.parametrize("name", sorted(NOT_VIEWS))
def test_no_grad_non_views_do_not_require_grad(name):
    _, bases = _bases()
    with ember.no_grad():
        result = NOT_VIEWS[name](bases["leaf"])
    assert not result.requires_grad and result.is_leaf


@pytest.mark.parametrize("name", ["view", "getitem", "t", "split", "reshape"])
def test_inference_mode_view_of_a_normal_tensor(name):
    _, bases = _bases()
    with ember.inference_mode():
        view = VIEWS[name](bases["leaf"])
        view.mul_(1)  # in-place inside the mode is allowed
    assert (view.requires_grad, view.is_leaf, view.is_inference()) == (True, True, False)
    with pytest.raises(RuntimeError) as error:
        view.mul_(2)
    assert str(error.value) == INFERENCE_INPLACE
    with ember.inference_mode():
        copied = bases["leaf"].t().reshape(6)
    assert copied.is_inference() and not copied.requires_grad


def test_views_of_tensors_without_grad_stay_plain():
    base = ember.ones(2, 3)
    with ember.no_grad():
        view = base.view(6)
    assert not view.requires_grad
    view.mul_(2)
    assert base.tolist() == [[2.0] * 3] * 2


def test_no_grad_view_sends_no_gradient_and_is_not_in_the_graph():
    leaf = ember.ones(2, 3, requires_grad=True)
    with ember.no_grad():
        view = leaf.view(6)
    product = view * 2
    assert product.grad_fn.next_functions[0] == (None, 0)
    out = product.sum()
    with pytest.raises(RuntimeError, match="index 0 appears to not have been used"):
        ember.autograd.grad(out, view, retain_graph=True)
    with pytest.raises(RuntimeError, match="index 0 appears to not have been used"):
        ember.autograd.grad(out, leaf)


def test_requires_grad_flag_of_a_no_grad_view():
    leaf = ember.ones(2, 3, requires_grad=True)
    with ember.no_grad():
        view = leaf.view(6)
    view.requires_grad_(False)  # PyTorch: no error, still requires grad through its base
    assert view.requires_grad
    assert not view.detach().requires_grad
    view.requires_grad_(True)  # its own flag: it now accumulates a gradient
    (view * 2).sum().backward()
    assert view.grad.tolist() == [2.0] * 6 and leaf.grad is None
    with pytest.raises(RuntimeError, match="created in no_grad mode and is being"):
        view.mul_(2)


def test_views_of_a_no_grad_view():
    leaf = ember.ones(2, 3, requires_grad=True)
    with ember.no_grad():
        view = leaf.view(6)
        again = view[1:]
    assert (again.requires_grad, again.is_leaf) == (True, True)
    recorded = view.view(2, 3)
    assert recorded.requires_grad and not recorded.is_leaf
    assert recorded.grad_fn.name() == "ViewBackward0"
    with pytest.raises(RuntimeError) as error:
        recorded.mul_(2)
    assert str(error.value).startswith(
        "Output 0 of View is a view of a view which was created in no_grad mode and is being "
        "modified inplace with grad mode enabled.")
    (recorded * 2).sum().backward()
    assert leaf.grad is None


def test_no_grad_view_used_after_its_base_changed():
    leaf = ember.ones(2, 3, requires_grad=True)
    base = leaf * 1
    with ember.no_grad():
        view = base[0]
    base.mul_(2)
    with ember.no_grad():
        assert (view + 1).tolist() == [3.0] * 3
    with pytest.raises(RuntimeError) as error:
        view.sum()
    assert str(error.value).startswith(BASE_CHANGED)
    assert not view.detach().requires_grad


def test_copies_of_a_no_grad_view_are_plain_leaves():
    leaf = ember.ones(2, 3, requires_grad=True)
    with ember.no_grad():
        view = leaf.view(6)
    for copied in (copy.deepcopy(view), pickle.loads(pickle.dumps(view))):
        assert copied.requires_grad and copied.is_leaf
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            copied.mul_(2)


def test_against_torch(torch):
    def run(lib):
        leaf = lib.ones(2, 3, requires_grad=True)
        base = leaf * 3
        flags = []
        for name in sorted(VIEWS) + sorted(set(NOT_VIEWS) - {"view_dtype"}):
            make = VIEWS.get(name) or NOT_VIEWS[name]
            with lib.no_grad():
                view = make(base)
            flags.append((name, view.requires_grad, view.is_leaf))
            out = (view * 2).sum()
            flags.append((out.requires_grad, out.grad_fn is None))
        return flags, leaf.grad
    ours, our_grad = run(ember)
    theirs, their_grad = run(torch)
    assert ours == theirs
    assert our_grad is None and their_grad is None


RESHAPES = {
    "permute_reshape": lambda x: x.permute(1, 0).reshape(6),
    "t_flatten": lambda x: x.t().flatten(),
    "slice_reshape": lambda x: x[:, ::2].reshape(-1),
    "expand_reshape": lambda x: x[:, :1].expand(2, 3).reshape(6),
    "viewing_reshape": lambda x: x.reshape(3, 2),
    "narrowed_view": lambda x: x.reshape(6).narrow(0, 0, 4),
}


@pytest.mark.parametrize("name", sorted(RESHAPES))
def test_reshape_that_copies_is_no_view_of_a_leaf(torch, name):
    """A reshape that had to copy returns a new tensor (PyTorch's _unsafe_view): changing it in
    place is allowed even when the input is a leaf that requires grad; a real view is refused."""
    data = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    outcomes = []
    for library in (torch, ember):
        leaf = library.tensor(data, requires_grad=True)
        try:
            result = RESHAPES[name](leaf)
            result.add_(1.0)
            result.sum().backward()
            outcomes.append(("ok", leaf.grad.numpy().tolist()))
        except RuntimeError as error:
            outcomes.append(("raised", str(error).split(".")[0]))
    assert outcomes[1] == outcomes[0]


@pytest.mark.parametrize("shape, factor", [((1, 4, 1, 1), 2), ((1, 2, 3, 3), 1)])
def test_pixel_shuffle_never_aliases_its_input(torch, shape, factor):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    """PyTorch's pixel (un)shuffle returns a tensor of its own even where a reshape could view
    the input (a factor of 1, a 1x1 image): changing the result leaves the input as it was."""
    for library in (torch, ember):
        source = library.tensor(data)
        library.nn.functional.pixel_shuffle(source, factor).add_(100.0)
        if factor == 1:
            library.nn.functional.pixel_unshuffle(source, factor).add_(100.0)
        np.testing.assert_array_equal(source.numpy(), data)
