"""The errors of common user mistakes: PyTorch's exception type and message, word for word
(``ember.`` where PyTorch prints ``torch.``)."""
import warnings

import numpy as np
import pytest

import ember

MISTAKES = {
    "matmul shapes": lambda lib: lib.ones(2, 3) @ lib.ones(4, 5),
    "bmm shapes": lambda lib: lib.bmm(lib.ones(2, 2, 3), lib.ones(2, 4, 5)),
    "linear in_features": lambda lib: lib.nn.Linear(4, 5)(lib.ones(2, 3)),
    "conv channels": lambda lib: lib.nn.Conv2d(3, 4, 3)(lib.ones(1, 2, 5, 5)),
    "conv input dtype": lambda lib: lib.nn.Conv2d(1, 1, 3)(lib.ones(1, 1, 5, 5).double()),
    "conv bias dtype": lambda lib: lib.nn.functional.conv2d(
        lib.ones(1, 1, 5, 5), lib.ones(1, 1, 3, 3), lib.ones(1).double()),
    "cat shapes": lambda lib: lib.cat([lib.ones(2, 3), lib.ones(4, 5)]),
    "cat nothing": lambda lib: lib.cat([]),
    "cat a tensor": lambda lib: lib.cat(lib.ones(2)),
    "cat a number": lambda lib: lib.cat([lib.ones(2), 1]),
    "stack shapes": lambda lib: lib.stack([lib.ones(2, 3), lib.ones(4, 5)]),
    "view size": lambda lib: lib.ones(2, 3).view(4),
    "expand size": lambda lib: lib.ones(2, 3).expand(3, 3),
    "broadcast": lambda lib: lib.ones(2, 3) + lib.ones(4, 5),
    "sum dim": lambda lib: lib.ones(2, 3).sum(2),
    "softmax dim": lambda lib: lib.ones(2, 3).softmax(3),
    "cumsum dim": lambda lib: lib.ones(2, 3).cumsum(3),
    "argmax dim": lambda lib: lib.ones(2, 3).argmax(3),
    "gather dim": lambda lib: lib.ones(2, 3).gather(2, lib.tensor([[0]])),
    "unsqueeze dim type": lambda lib: lib.ones(3).unsqueeze("a"),
    "gather index": lambda lib: lib.ones(3).gather(0, lib.tensor([5])),
    "gather index dtype": lambda lib: lib.ones(3).gather(0, lib.tensor([1.0])),
    "scatter index": lambda lib: lib.zeros(3).scatter_(0, lib.tensor([5]), 1.0),
    "scatter_add index dtype": lambda lib: lib.ones(3).scatter_add(
        0, lib.tensor([1.0]), lib.ones(1)),
    "index_select index": lambda lib: lib.ones(3).index_select(0, lib.tensor([5])),
    "index_select dim 1": lambda lib: lib.ones(2, 3).index_select(1, lib.tensor([3])),
    "index_select index dtype": lambda lib: lib.ones(3).index_select(0, lib.tensor([1.0])),
    "index_add index": lambda lib: lib.ones(3).index_add(0, lib.tensor([3]), lib.ones(1)),
    "index_add index dtype": lambda lib: lib.ones(3).index_add(
        0, lib.tensor([1.0]), lib.ones(1)),
    "index_fill index": lambda lib: lib.ones(3).index_fill(0, lib.tensor([3]), 1.0),
    "topk k": lambda lib: lib.ones(3).topk(5),
    "kthvalue k": lambda lib: lib.ones(3).kthvalue(5),
    "in-place cast": lambda lib: lib.ones(3, dtype=lib.long).add_(lib.ones(3)),
    "in-place float scalar": lambda lib: lib.ones(3, dtype=lib.long).mul_(1.5),
    "in-place broadcast": lambda lib: lib.ones(3).add_(lib.ones(2, 3)),
    "in-place overlap": lambda lib: lib.zeros(3, 1).expand(3, 2).add_(1),
    "add a string": lambda lib: lib.ones(3) + "x",
    "subtract a list": lambda lib: lib.ones(3) - [1, 2, 3],
    "string plus tensor": lambda lib: "x" + lib.ones(3),
    "power of a string": lambda lib: lib.ones(3) ** "x",
    "matmul a string": lambda lib: lib.ones(3) @ "x",
    "compare a string": lambda lib: lib.ones(3) < "x",
    "masked_fill float mask": lambda lib: lib.ones(2, 3).masked_fill(lib.ones(2, 3), 0),
    "masked_fill long mask": lambda lib: lib.ones(2, 3).masked_fill(lib.ones(2, 3).long(), 0),
    "einsum sizes": lambda lib: lib.einsum("ij,jk->ik", lib.ones(2, 3), lib.ones(2, 3)),
    "setitem value shape": lambda lib: lib.ones(2, 3).__setitem__(0, lib.ones(4)),
    "setitem value dims": lambda lib: lib.ones(2, 3).__setitem__(0, lib.ones(2, 4)),
    "setitem mask value": lambda lib: lib.ones(2, 3).__setitem__(lib.ones(2) > 0, lib.ones(4)),
    "mask shape": lambda lib: lib.ones(2, 3, 4)[lib.ones(3) > 0],
    "cross_entropy target dtype": lambda lib: lib.nn.functional.cross_entropy(
        lib.ones(2, 3), lib.tensor([0.0, 1.0])),
    "cross_entropy target class": lambda lib: lib.nn.functional.cross_entropy(
        lib.ones(2, 3), lib.tensor([0, 3])),
    "nll_loss target count": lambda lib: lib.nn.functional.nll_loss(
        lib.ones(2, 3), lib.tensor([0, 1, 1])),
    "assert_close types": lambda lib: lib.testing.assert_close(lib.ones(3), 1.0),
    "cross_entropy float target count": lambda lib: lib.nn.functional.cross_entropy(
        lib.ones(2, 3), lib.ones(3)),
    "nll_loss 2-d float target": lambda lib: lib.nn.functional.nll_loss(
        lib.ones(2, 3), lib.ones(2, 4)),
    "nll_loss unbatched target count": lambda lib: lib.nn.functional.nll_loss(
        lib.ones(3), lib.tensor([0, 1])),
    "binary_cross_entropy target dtype": lambda lib: lib.nn.functional.binary_cross_entropy(
        lib.full((2,), 0.5), lib.ones(2, dtype=lib.long)),
    "mv sizes": lambda lib: lib.mv(lib.ones(2, 3), lib.ones(4)),
    "binary_cross_entropy_with_logits int target":
        lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(
            lib.ones(2), lib.ones(2, dtype=lib.int32)),
    "binary_cross_entropy_with_logits bool target":
        lambda lib: lib.nn.functional.binary_cross_entropy_with_logits(
            lib.ones(2), lib.ones(2, dtype=lib.bool)),
    "to a dtype name": lambda lib: lib.ones(2).to("float32"),
    "reshape negative size": lambda lib: lib.ones(6).reshape(3, -2),
    "Size of strings": lambda lib: lib.Size(["a"]),
    "Size of a float": lambda lib: lib.Size([2, 1.5]),
    "Size of None": lambda lib: lib.Size([None]),
    "Size of a NumPy float": lambda lib: lib.Size([np.float64(2)]),
    "Size of a float tensor": lambda lib: lib.Size([lib.tensor(2.0)]),
    "Size of an int": lambda lib: lib.Size(3),
    "size(0) of a 0-d tensor": lambda lib: lib.tensor(1.0).size(0),
    "size(-2) of a 0-d tensor": lambda lib: lib.tensor(1.0).size(-2),
    "stride(3) of a 0-d tensor": lambda lib: lib.tensor(1.0).stride(3),
    "grad of a float": lambda lib: lib.autograd.grad(1.0, lib.ones(2, requires_grad=True)),
    "grad of a list with a float":
        lambda lib: lib.autograd.grad([1.0], lib.ones(2, requires_grad=True)),
    "grad by an int": lambda lib: lib.autograd.grad(lib.ones(2, requires_grad=True).sum(), 2),
    "grad by a str": lambda lib: lib.autograd.grad(lib.ones(2, requires_grad=True).sum(), "ab"),
    "grad with a float grad_output": lambda lib: lib.autograd.grad(
        (lib.ones(2, requires_grad=True) * 2).sum(), lib.ones(1), grad_outputs=[1.0]),
    "backward of a list with a float":
        lambda lib: lib.autograd.backward([lib.ones(2, requires_grad=True).sum(), 1.0]),
    "backward with an int gradient":
        lambda lib: lib.autograd.backward([lib.ones(2, requires_grad=True).sum()], [2]),
    "backward with inputs=3": lambda lib: lib.ones(2, requires_grad=True).sum().backward(inputs=3),
}


def _backward_twice(lib):
    x = lib.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _backward_non_scalar(lib):
    (lib.ones(3, requires_grad=True) * 2).backward()


def _set_leaf_element(lib):
    x = lib.ones(3, requires_grad=True)
    x[0] = 2.0


def _set_leaf_by_index_list(lib):
    x = lib.ones(3, requires_grad=True)
    x[[0]] = 2.0


MISTAKES.update({"backward twice": _backward_twice, "backward non-scalar": _backward_non_scalar,
                 "setitem on a leaf": _set_leaf_element,
                 "setitem on a leaf by index list": _set_leaf_by_index_list})


def _raised(make, lib):
    with pytest.raises(Exception) as error:
        make(lib)
    return type(error.value), str(error.value).replace("torch.", "ember.")


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_error_type_and_message_match_torch(torch, name):
    theirs = _raised(MISTAKES[name], torch)
    ours = _raised(MISTAKES[name], ember)
    assert ours[0].__name__ == theirs[0].__name__
    assert ours[1] == theirs[1]


def test_messages_without_torch():
    cases = {
        "gather index": "index 5 is out of bounds for dimension 0 with size 3",
        "index_select index": "index out of range in self",
        "in-place cast": "result type Float can't be cast to the desired output type Long",
        "add a string": "unsupported operand type(s) for +: 'Tensor' and 'str'",
        "assert_close types": "No comparison pair was able to handle inputs of type "
                              "<class 'ember.Tensor'> and <class 'float'>.",
        "setitem on a leaf": "a view of a leaf Variable that requires grad is being used in an "
                             "in-place operation.",
        "setitem on a leaf by index list": "a leaf Variable that requires grad is being used in "
                                           "an in-place operation.",
    }
    for name, message in cases.items():
        assert _raised(MISTAKES[name], ember)[1] == message


def test_operators_give_other_operands_their_turn():
    class Other:
        def __radd__(self, tensor):
            return "radd"

        def __rmatmul__(self, tensor):
            return "rmatmul"

    assert ember.ones(3) + Other() == "radd"
    assert ember.ones(3) @ Other() == "rmatmul"
    assert (ember.ones(3) == None) is False  # noqa: E711 - identity, as in PyTorch
    x = ember.ones(3)
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for \+=: 'Tensor' and"):
        x += "x"


def test_non_leaf_grad_warning_text(torch):
    texts = []
    for lib in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _ = (lib.ones(3, requires_grad=True) * 2).grad
        texts.append(str(caught[0].message).split(" (Triggered internally")[0])
    assert texts[0] == texts[1]


def test_nll_loss_takes_one_target_for_one_unbatched_sample(torch):
    values = []
    for lib in (ember, torch):
        log_probabilities = lib.tensor([-1.0, -2.0, -3.0])
        values.append([lib.nn.functional.nll_loss(log_probabilities, lib.tensor([1])).item(),
                       lib.nn.functional.cross_entropy(log_probabilities, lib.tensor([2])).item()])
    assert values[0] == pytest.approx(values[1])
    assert values[0][0] == 2.0


def test_size_takes_integers_as_torch(torch):
    """NumPy integers are kept, bools and one-element integer tensors become ints."""
    items = [np.int64(2), True, torch.tensor([3]), 4]
    theirs = torch.Size(items)
    ours = ember.Size([np.int64(2), True, ember.tensor([3]), 4])
    assert list(ours) == list(theirs) == [2, 1, 3, 4]
    assert [type(item) for item in ours] == [type(item) for item in theirs]
