"""torchvision.ops box arithmetic and box losses: values and gradients against torchvision's
definitions written in torch (torchvision itself may be absent), float64 gradchecks, and the
dtypes torchvision gives integer boxes."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.vision import ops
from tests.conftest import assert_raises_like_torch


def _boxes(count, seed, dtype=np.float64):
    random = np.random.default_rng(seed)
    corners = random.random((count, 2)) * 20
    sizes = random.random((count, 2)) * 10 + 1
    return np.concatenate([corners, corners + sizes], axis=1).astype(dtype)


def _torch_inter_union(torch, boxes1, boxes2):
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    top_left = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    sizes = (bottom_right - top_left).clamp(min=0)
    intersection = sizes[:, :, 0] * sizes[:, :, 1]
    return intersection, area1[:, None] + area2 - intersection


def _torch_giou(torch, boxes1, boxes2):
    intersection, union = _torch_inter_union(torch, boxes1, boxes2)
    top_left = torch.min(boxes1[:, None, :2], boxes2[:, :2])
    bottom_right = torch.max(boxes1[:, None, 2:], boxes2[:, 2:])
    sizes = (bottom_right - top_left).clamp(min=0)
    enclosing = sizes[:, :, 0] * sizes[:, :, 1]
    return intersection / union - (enclosing - union) / enclosing


def _torch_giou_loss(torch, boxes1, boxes2, eps=1e-7):
    x1, y1, x2, y2 = boxes1.unbind(-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(-1)
    left, top = torch.max(x1, x1g), torch.max(y1, y1g)
    right, bottom = torch.min(x2, x2g), torch.min(y2, y2g)
    intersection = torch.zeros_like(x1)
    mask = (bottom > top) & (right > left)
    intersection[mask] = (right[mask] - left[mask]) * (bottom[mask] - top[mask])
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - intersection
    enclosing = (torch.max(x2, x2g) - torch.min(x1, x1g)) * (torch.max(y2, y2g) - torch.min(y1, y1g))
    return 1 - (intersection / (union + eps) - (enclosing - union) / (enclosing + eps))


def _torch_focal(torch, inputs, targets, alpha, gamma):
    p = torch.sigmoid(inputs)
    cross_entropy = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets,
                                                                         reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = cross_entropy * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def _pair(torch, *arrays):
    """Each array as an ember and a torch leaf requiring grad."""
    return ([ember.tensor(array, requires_grad=True) for array in arrays],
            [torch.tensor(array, requires_grad=True) for array in arrays])


@pytest.mark.parametrize("name", ["box_iou", "generalized_box_iou"])
def test_pairwise_ious_and_their_gradients_match_torch(name, torch):
    first, second = _boxes(5, 0), _boxes(4, 1)
    first[0] = second[0] + 0.5  # overlapping and disjoint pairs both occur
    reference = {"box_iou": lambda a, b: torch.div(*_torch_inter_union(torch, a, b)),
                 "generalized_box_iou": lambda a, b: _torch_giou(torch, a, b)}[name]
    (mine_a, mine_b), (theirs_a, theirs_b) = _pair(torch, first, second)
    weights = np.random.default_rng(2).random((5, 4))
    ours = getattr(ops, name)(mine_a, mine_b)
    theirs = reference(theirs_a, theirs_b)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    (ours * ember.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(mine_a.grad.numpy(), theirs_a.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mine_b.grad.numpy(), theirs_b.grad.numpy(), rtol=1e-10)
    assert gradcheck(getattr(ops, name), (ember.tensor(first, requires_grad=True),
                                          ember.tensor(second, requires_grad=True)))


def test_float32_and_integer_boxes_keep_torchvisions_dtypes(torch):
    boxes = _boxes(3, 4, np.float32)
    assert ops.box_iou(ember.tensor(boxes), ember.tensor(boxes)).dtype == ember.float32
    integer = ember.tensor(np.round(boxes).astype(np.int64))
    assert ops.box_area(integer).dtype == ember.int64
    assert ops.box_iou(integer, integer).dtype == ember.float32
    assert ops.box_area(ember.tensor(boxes).half()).dtype == ember.float32
    assert ops.generalized_box_iou_loss(integer, integer).dtype == ember.float32


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_generalized_box_iou_loss_matches_torch(reduction, torch):
    first, second = _boxes(6, 5), _boxes(6, 6)
    first[:2] = second[:2] + 0.25
    (mine_a, mine_b), (theirs_a, theirs_b) = _pair(torch, first, second)
    ours = ops.generalized_box_iou_loss(mine_a, mine_b, reduction=reduction)
    theirs = _torch_giou_loss(torch, theirs_a, theirs_b)
    theirs = {"none": theirs, "mean": theirs.mean(), "sum": theirs.sum()}[reduction]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(mine_a.grad.numpy(), theirs_a.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(mine_b.grad.numpy(), theirs_b.grad.numpy(), rtol=1e-10)
    empty = ops.generalized_box_iou_loss(ember.zeros(0, 4), ember.zeros(0, 4), reduction="mean")
    assert empty.item() == 0.0


@pytest.mark.parametrize("alpha, gamma, reduction", [(0.25, 2, "none"), (-1, 1.5, "mean"),
                                                     (0.5, 0, "sum")])
def test_sigmoid_focal_loss_matches_torch(alpha, gamma, reduction, torch):
    random = np.random.default_rng(7)
    logits = random.standard_normal((4, 3)) * 3
    targets = (random.random((4, 3)) > 0.6).astype(np.float64)
    (mine,), (theirs,) = _pair(torch, logits)
    ours = ops.sigmoid_focal_loss(mine, ember.tensor(targets), alpha, gamma, reduction)
    expected = _torch_focal(torch, theirs, torch.tensor(targets), alpha, gamma)
    expected = {"none": expected, "mean": expected.mean(), "sum": expected.sum()}[reduction]
    np.testing.assert_allclose(ours.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="Invalid Value for arg 'reduction': 'max"):
        ops.sigmoid_focal_loss(mine, ember.tensor(targets), reduction="max")


def test_box_convert_is_differentiable_and_round_trips():
    boxes = ember.tensor(_boxes(4, 8), requires_grad=True)
    for middle in ("xywh", "cxcywh"):
        back = ops.box_convert(ops.box_convert(boxes, "xyxy", middle), middle, "xyxy")
        np.testing.assert_allclose(back.detach().numpy(), boxes.detach().numpy(), rtol=1e-12)
    assert gradcheck(lambda b: ops.box_convert(b, "cxcywh", "xywh"), (boxes,))
    same = ops.box_convert(boxes, "xyxy", "xyxy")
    assert same is not boxes and np.array_equal(same.detach().numpy(), boxes.detach().numpy())


def test_clip_and_remove_small_boxes():
    boxes = ember.tensor([[-2.0, 1.0, 30.0, 50.0], [5.0, 5.0, 6.0, 20.0], [1.0, 2.0, 9.0, 12.0]])
    clipped = ops.clip_boxes_to_image(boxes, (40, 25))
    assert clipped.tolist() == [[0.0, 1.0, 25.0, 40.0], [5.0, 5.0, 6.0, 20.0],
                                [1.0, 2.0, 9.0, 12.0]]
    keep = ops.remove_small_boxes(boxes, 2.0)
    assert keep.dtype == ember.int64 and keep.tolist() == [0, 2]


def _against_torchvision(torch, torchvision, call, arrays):
    """``call(library, ops, *tensors)`` in ember and in torch/torchvision, float64 tensors that
    require grad; (ours, theirs) as (value, grads)."""
    results = []
    for library, namespace in ((ember, ops), (torch, torchvision.ops)):
        tensors = [library.tensor(array, requires_grad=array.dtype.kind == "f")
                   for array in arrays]
        value = call(library, namespace, *tensors)
        if value.requires_grad:
            value.sum().backward()
        results.append((value.detach().numpy(),
                        [tensor.grad.numpy() for tensor in tensors if tensor.grad is not None]))
    return results


@pytest.mark.parametrize("call", [
    lambda fw, o, a, b: o.distance_box_iou(a, b),
    lambda fw, o, a, b: o.complete_box_iou(a, b),
    lambda fw, o, a, b: o.distance_box_iou_loss(a, b[:4], reduction="mean"),
    lambda fw, o, a, b: o.complete_box_iou_loss(a, b[:4], reduction="sum"),
    lambda fw, o, a, b: o.complete_box_iou_loss(a[:0], b[:0], reduction="mean"),
    lambda fw, o, a, b: o.distance_box_iou_loss(a, b[:4], eps=1e-3),
], ids=["diou", "ciou", "diou_loss", "ciou_loss", "ciou_loss_empty", "diou_loss_eps"])
def test_distance_and_complete_iou_match_torchvision(torch, torchvision, call):
    ours, theirs = _against_torchvision(torch, torchvision, call, [_boxes(4, 10), _boxes(5, 11)])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    for mine, expected in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


def test_masks_to_boxes_matches_torchvision(torch, torchvision):
    masks = np.zeros((3, 5, 6), dtype=np.uint8)
    masks[0, 1:3, 2:5] = 1
    masks[1, 4, 0] = 1
    ours, theirs = _against_torchvision(torch, torchvision, lambda fw, o, m: o.masks_to_boxes(m), [masks])
    np.testing.assert_array_equal(ours[0], theirs[0])
    assert ours[0].dtype == theirs[0].dtype
    assert ops.masks_to_boxes(ember.zeros(0, 3, 3)).shape == (0, 4)


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_stochastic_depth_draws_as_torchvision(torch, torchvision, mode):
    torch.manual_seed(5)
    ember.manual_seed(5)
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    ours = ops.stochastic_depth(ember.tensor(x), 0.5, mode)
    theirs = torchvision.ops.stochastic_depth(torch.tensor(x), 0.5, mode)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    module = ops.StochasticDepth(0.2, mode).eval()
    assert module(ember.tensor(x)).tolist() == x.tolist()
    assert repr(module) == repr(torchvision.ops.StochasticDepth(0.2, mode))
    for p, bad_mode in ((1.5, mode), (0.5, "pixel")):
        assert_raises_like_torch(
            lambda: torchvision.ops.stochastic_depth(torch.tensor(x), p, bad_mode),
            lambda: ops.stochastic_depth(ember.tensor(x), p, bad_mode), same_type=True)


def test_misc_blocks_match_torchvision(torch, torchvision):
    """SqueezeExcitation, MLP (with a norm layer) and FrozenBatchNorm2d: the same state dict
    keys, outputs from the same weights, reprs; FrozenBatchNorm2d drops a BatchNorm2d's
    num_batches_tracked when loading."""
    x = np.random.default_rng(4).standard_normal((2, 6, 3, 3)).astype(np.float32)
    builds = [(lambda fw, o: o.SqueezeExcitation(6, 2), x),
              (lambda fw, o: o.MLP(9, [12, 4], norm_layer=fw.nn.LayerNorm), x.reshape(12, 9)),
              (lambda fw, o: o.FrozenBatchNorm2d(6, eps=1e-3), x)]
    generator = np.random.default_rng(1)
    for build, inputs in builds:
        theirs = build(torch, torchvision.ops)
        ours = build(ember, ops)
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
        state = {key: generator.random(tuple(value.shape)).astype(np.float32) + 0.5
                 for key, value in theirs.state_dict().items()}
        theirs.load_state_dict({key: torch.tensor(value) for key, value in state.items()})
        if isinstance(ours, ops.FrozenBatchNorm2d):
            state["num_batches_tracked"] = np.array(3)
        ours.load_state_dict({key: ember.tensor(value) for key, value in state.items()})
        np.testing.assert_allclose(ours(ember.tensor(inputs)).detach().numpy(),
                                   theirs(torch.tensor(inputs)).detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        assert repr(ours).replace("ember", "torch") == repr(theirs)


@pytest.mark.parametrize("spatial, block_size", [(2, 3), (2, 5), (3, 3)])
def test_drop_block_draws_as_torchvision(torch, torchvision, spatial, block_size):
    """The same block centres from the same seed, the same rescaling, eval as identity; the
    module reprs and the argument errors as torchvision's."""
    shape = (2, 3, 6, 7) if spatial == 2 else (1, 2, 4, 5, 6)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    name = f"drop_block{spatial}d"
    torch.manual_seed(3)
    ember.manual_seed(3)
    theirs = getattr(torchvision.ops, name)(torch.tensor(x), 0.3, block_size)
    ours = getattr(ops, name)(ember.tensor(x), 0.3, block_size)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    module_name = f"DropBlock{spatial}d"
    module = getattr(ops, module_name)(0.3, block_size).eval()
    assert module(ember.tensor(x)).tolist() == x.tolist()
    assert repr(module) == repr(getattr(torchvision.ops, module_name)(0.3, block_size))
    for p, size, array in ((1.5, block_size, x), (0.3, 4, x), (0.3, block_size, x[0])):
        assert_raises_like_torch(
            lambda: getattr(torchvision.ops, name)(torch.tensor(array), p, size),
            lambda: getattr(ops, name)(ember.tensor(array), p, size), same_type=True)
