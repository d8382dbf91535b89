"""grad_fn names as PyTorch prints them (``tensor(0.69, grad_fn=<NllLossBackward0>)``), where
one ember op serves several PyTorch ops or composes a loss, compared with torch."""
import pytest

import ember

EXPRESSIONS = [
    "1 - x", "x ** w", "2 ** x", "x ** 2", "x.square()", "x @ w.T", "x3 @ w.T", "v @ v", "x @ v",
    "fw.bmm(x3, x3.transpose(1, 2))", "fw.addmm(v[:2, None], x, w.T)", "lin(x)", "lin(v)",
    "lin(x3)", "linnb(x)", "linnb(x3)", "conv(img)", "bn(img)", "ln(x)", "gru(x3)[0]",
    "x.sum()", "x.sum(0)", "x.mean()", "x.mean(1, keepdim=True)", "x.prod(0)", "x.max()",
    "x.max(0)[0]", "x.min()", "x.amax(1)", "x.amin(1)", "x.norm()", "x.logsumexp(1)",
    "x.cumsum(1)", "x.cumprod(1)", "x.sort(1)[0]", "x.topk(2)[0]", "x.kthvalue(1)[0]",
    "x.clamp(0, 1)", "x.clamp(min=0)", "x.log1p()", "x.addcmul(w, w)", "x.addcdiv(w, w)",
    "F.glu(x4)", "F.dropout(x, 0.5)", "F.pad(x, (1, 1))", "F.pad(img, (1, 1, 1, 1), mode='reflect')",
    "F.interpolate(img, scale_factor=2)", "F.interpolate(img, scale_factor=2, mode='bilinear')",
    "F.max_pool2d(img, 2)", "F.avg_pool2d(img, 2)", "F.unfold(img, 2)",
    "F.cross_entropy(x, t)", "F.cross_entropy(x, t, reduction='none')", "F.cross_entropy(x, p)",
    "F.cross_entropy(x, p, reduction='sum')", "F.cross_entropy(x, t, label_smoothing=0.1)",
    "F.cross_entropy(x3.transpose(1, 2), t2)", "F.nll_loss(x, t)", "F.mse_loss(x, w)",
    "F.mse_loss(x, w, reduction='none')", "F.l1_loss(x, w)", "F.smooth_l1_loss(x, w)",
    "F.huber_loss(x, w)", "F.binary_cross_entropy(x.sigmoid(), p)",
    "F.binary_cross_entropy_with_logits(x, p)", "x.view(3, 2)", "x.reshape(6)",
    "x.t().reshape(6)", "x.flatten()", "x.t()", "x.T", "x.transpose(0, 1)", "x.mT",
    "x.permute(1, 0)", "x.unsqueeze(0)", "x[None]", "x.squeeze()", "x[None].squeeze(0)",
    "x.t().contiguous()", "x.double()", "x.to(fw.float64)", "x.narrow(1, 0, 2)", "x.tril()",
    "x.triu()", "fw.diag_embed(x)", "x.index_select(0, t)", "x.masked_fill(x > 0, 0)",
    "x.masked_select(x > 0)", "x.take(t)", "x[0]", "x[:, 1]", "x[1:]", "x[0, 1:]", "x[..., 0]",
    "x[:]", "x[t]", "x[x > 0]", "x[:, None]", "x[0, :]", "x.broadcast_to(2, 2, 3)",
    "F.pairwise_distance(x, w)", "F.pairwise_distance(v, v.flip(0), p=1)", "F.pdist(x)",
    "fw.cdist(x, w)", "fw.cdist(x, w, p=1)", "fw.cdist(x, w, compute_mode='use_mm_for_euclid_dist')",
    "fw.dist(x, w)", "x.dist(w, 1)", "fw.fake_quantize_per_tensor_affine(x, 0.1, 0, -8, 7)",
    "fw.fake_quantize_per_tensor_affine(x, fw.tensor(0.1), fw.tensor(0), -8, 7)",
    "fw.fake_quantize_per_channel_affine(x, fw.ones(2), fw.zeros(2, dtype=fw.int32), 0, -8, 7)",
    # reshape of a non-contiguous input that stays a view: PyTorch's _reshape_alias
    "x[:, 1:2].flatten()", "x3[::2].reshape(2, 6)", "x3[:, :1, :].reshape(4, 3)",
    "x.t()[1:].flatten()", "x3.permute(1, 0, 2).reshape(2, 12)", "x3[:, 1].unflatten(1, (3, 1))",
]


def _names(fw):
    F = fw.nn.functional
    fw.manual_seed(0)
    namespace = {
        "fw": fw, "F": F, "x": fw.randn(2, 3, requires_grad=True),
        "w": fw.randn(2, 3, requires_grad=True), "v": fw.randn(3, requires_grad=True),
        "x3": fw.randn(4, 2, 3, requires_grad=True), "x4": fw.randn(2, 4, requires_grad=True),
        "t": fw.tensor([0, 1]), "t2": fw.zeros(4, 2, dtype=fw.long), "p": fw.rand(2, 3),
        "img": fw.randn(1, 2, 6, 6, requires_grad=True), "lin": fw.nn.Linear(3, 2),
        "linnb": fw.nn.Linear(3, 2, bias=False), "conv": fw.nn.Conv2d(2, 2, 3),
        "bn": fw.nn.BatchNorm2d(2), "ln": fw.nn.LayerNorm(3), "gru": fw.nn.GRU(3, 4)}
    return [eval(expression, namespace).grad_fn.name() for expression in EXPRESSIONS]


def test_grad_fn_names_like_pytorch(torch):
    expected = _names(torch)
    got = _names(ember)
    mismatches = [(expression, name, mine) for expression, name, mine
                  in zip(EXPRESSIONS, expected, got) if name != mine]
    assert not mismatches


def test_printed_loss_names_its_node():
    x = ember.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    loss = ember.nn.functional.cross_entropy(x, ember.tensor([2]))
    assert repr(loss).endswith("grad_fn=<NllLossBackward0>)")
    assert type(loss.grad_fn).__name__ == "ClassificationLoss"  # the class stays ember's


@pytest.mark.parametrize("expression", ["x + 1", "x * x", "x.exp()"])
def test_unchanged_names_follow_the_class(expression):
    x = ember.randn(2, requires_grad=True)
    node = eval(expression).grad_fn
    assert node.name() == type(node).__name__ + "Backward0"


def test_leaves_appear_as_accumulate_grad_nodes_as_in_torch(torch):
    """A walk over next_functions (graph printers, the autograd tutorial) meets a leaf as its
    AccumulateGrad node, one object per leaf, whose ``variable`` is the leaf."""
    def walk(library):
        x = library.ones(2, 3, requires_grad=True)
        w = library.ones(3, requires_grad=True)
        out = ((x * w).sum() + (x * 2).mean()).tanh()
        names = []
        stack = [out.grad_fn]
        seen = set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            names.append(node.name())
            if hasattr(node, "variable"):
                assert node.variable is x or node.variable is w
                assert node.next_functions == ()
            stack.extend(parent for parent, _ in node.next_functions)
        first = (x * 2).grad_fn.next_functions[0][0]
        assert first is (x + 1).grad_fn.next_functions[0][0]
        assert repr(first).startswith("<AccumulateGrad object at 0x")
        return sorted(names)

    assert walk(ember) == walk(torch)


def test_the_blitz_tutorials_graph_walk_matches_torch(torch):
    """The 60-minute blitz prints loss.grad_fn and walks next_functions[0][0] twice: MSE loss,
    then the last Linear (addmm), then its bias's AccumulateGrad; mse_loss's edges are the
    input's and the target's only."""
    def walk(library):
        layer = library.nn.Linear(4, 3)
        hidden = library.relu(library.nn.Linear(2, 4)(library.ones(5, 2)))
        loss = library.nn.functional.mse_loss(layer(hidden), library.zeros(5, 3))
        first = loss.grad_fn.next_functions[0][0]
        unbiased = library.nn.functional.linear(hidden, layer.weight).grad_fn
        return [loss.grad_fn.name(), len(loss.grad_fn.next_functions), first.name(),
                first.next_functions[0][0].name(), first.next_functions[1][0].name(),
                [edge[0].name() if edge[0] is not None else None
                 for edge in unbiased.next_functions]]

    ours, theirs = walk(ember), walk(torch)
    assert ours[:4] == theirs[:4] and ours[4] == theirs[4]
    assert ours[5][0] == theirs[5][0]  # mm's input edge (PyTorch's weight edge is a TBackward0)


def test_next_functions_list_the_tensor_inputs_as_torch(torch):
    """Ops with options (dims, shapes, dtypes, exponents) list only their tensor inputs."""
    def lengths(library):
        x = library.ones(2, 3, requires_grad=True)
        outputs = [x.sum(0), x.mean(), x.view(3, 2), x.t(), x.softmax(1), x.log_softmax(1),
                   x.expand(4, 2, 3), x.max(0)[0], x.amax(), x.var(0), x.norm(), x.cumsum(1),
                   x[0], x.double(), x * 2, x + x, x.pow(2), 2 ** x, x ** x]
        return [(output.grad_fn.name(), len(output.grad_fn.next_functions))
                for output in outputs]

    assert lengths(ember) == lengths(torch)


def _next_functions(library):
    functional = library.nn.functional
    x = library.arange(12.0).reshape(3, 4).requires_grad_()
    w = library.ones(4, 4, requires_grad=True)
    image = library.ones(1, 2, 6, 6, requires_grad=True)
    kernel = library.ones(3, 2, 3, 3, requires_grad=True)
    outputs = {
        "index": x[[0, 2]],
        "gather": x.gather(1, library.zeros(3, 1, dtype=library.int64)),
        "cat": library.cat([x, library.ones(1, 4), x * 2]),
        "stack": library.stack([x, x]),
        "topk": x.topk(2)[0],
        "split": x.split(2, 1)[0],
        "flip": x.flip(0),
        "roll": x.roll(1, 0),
        "repeat": x.repeat(2, 1),
        "pad": functional.pad(x, (1, 1)),
        "gelu": functional.gelu(x),
        "leaky_relu": functional.leaky_relu(x, 0.1),
        "hardtanh": functional.hardtanh(x),
        "layer_norm": functional.layer_norm(x, (4,)),
        "batch_norm": functional.batch_norm(image, None, None, training=True),
        "conv2d": functional.conv2d(image, kernel),
        "max_pool2d": functional.max_pool2d(image, 2),
        "avg_pool2d": functional.avg_pool2d(image, 2),
        "nll_loss": functional.nll_loss(x, library.tensor([0, 1, 2])),
        "where": library.where(x > 3, x, w[:3]),
        "masked_fill": x.masked_fill(x > 3, 0.0),
        "masked_fill_tensor": x.masked_fill(x > 3, library.tensor(1.0, requires_grad=True)),
        "embedding": functional.embedding(library.tensor([0, 1]), w),
        "addcmul": library.addcmul(x, x, x, value=0.5),
    }
    return {name: (output.grad_fn.name(), [None if node is None else node.name()
                                           for node, _ in output.grad_fn.next_functions])
            for name, output in outputs.items()}


def test_next_functions_list_only_tensor_inputs_like_torch(torch):
    assert _next_functions(ember) == _next_functions(torch)


VMAPPED = ["v.sum()", "v.mean()", "v.sum(0)", "v.mean(0, keepdim=True)", "v.prod()", "v.prod(0)",
           "v.max()", "v.min()", "v.amax()", "v.amax(0)", "v.max(0)[0]", "v.var()", "v.norm()",
           "v.logsumexp(0)", "v.exp()", "v.reshape(3, 1)", "v[1:]"]


def _vmapped_names(fw):
    x = fw.randn(4, 3, requires_grad=True)
    return [fw.func.vmap(eval(f"lambda v: {expression}"))(x).grad_fn.name()
            for expression in VMAPPED]


def test_grad_fn_names_of_vmapped_reductions_like_pytorch(torch):
    """Under vmap a reduction of a whole sample runs along dims: PyTorch's node of the dim
    overload (SumBackward1, MaxBackward0), as the vmapped output shows it."""
    expected = _vmapped_names(torch)
    got = _vmapped_names(ember)
    assert [pair for pair in zip(VMAPPED, expected, got) if pair[1] != pair[2]] == []


def _option_inputs(library):
    """next_functions of ops that take options (dims, sizes, numbers) beside their tensors."""
    functional = library.nn.functional
    x = library.arange(12.0).reshape(3, 4).requires_grad_()
    y = library.ones(3, 4, requires_grad=True)
    weight = library.full((3, 4), 0.25, requires_grad=True)
    image = library.ones(1, 2, 4, 4, requires_grad=True)
    kernel = library.ones(2, 3, 3, 3, requires_grad=True)
    query = library.ones(1, 2, 3, 4, requires_grad=True)
    index = library.tensor([[0], [1], [2]])
    outputs = {
        "clone": x.clone(), "clamp": x.clamp(0, 1), "clamp_min": x.clamp(min=0),
        "clamp_tensor": x.clamp(min=y), "lerp": library.lerp(x, y, 0.5),
        "lerp_tensor": library.lerp(x, y, weight), "round": x.round(),
        "round_decimals": x.round(decimals=1), "rsub": 2 - x, "fmod": library.fmod(x, 2.0),
        "remainder": x % 2.0, "xlogy": library.xlogy(x, y),
        "xlogy_number": library.xlogy(x, 2.0), "number_xlogy": library.xlogy(2.0, x),
        "logsumexp": x.logsumexp(1), "prod": x.prod(), "prod_dim": x.prod(1),
        "logcumsumexp": x.logcumsumexp(1), "diagonal": x.diagonal(), "tril": x.tril(),
        "triu": x.triu(1), "diag_embed": library.diag_embed(x), "as_strided": x.as_strided((2, 2), (1, 2)),
        "unfold_dim": x.unfold(1, 2, 1), "nan_to_num": x.nan_to_num(),
        "scatter": x.scatter(1, index, 1.0), "scatter_add": x.scatter_add(1, index, y),
        "scatter_reduce": x.scatter_reduce(1, index, y[:, :1], "sum"),
        "index_add": x.index_add(0, library.tensor([0, 1]), y[:2]),
        "index_copy": x.index_copy(0, library.tensor([0]), y[:1]),
        "index_fill": x.index_fill(0, library.tensor([0]), 1.0),
        "masked_scatter": x.masked_scatter(x > 3, y),
        "unfold": functional.unfold(image, 2), "conv_transpose2d": functional.conv_transpose2d(image, kernel),
        "affine_grid": functional.affine_grid(library.ones(1, 2, 3, requires_grad=True), (1, 1, 2, 2),
                                              align_corners=False),
        "grid_sample": functional.grid_sample(image, library.zeros(1, 2, 2, 2, requires_grad=True),
                                              align_corners=False),
        "sdpa": functional.scaled_dot_product_attention(query, query, query),
    }
    return {name: (output.grad_fn.name() if name.endswith("xlogy") or "xlogy_" in name else None,
                   [None if node is None else node.name() for node, _ in output.grad_fn.next_functions])
            for name, output in outputs.items()}


def test_next_functions_leave_out_options_like_torch(torch):
    """A node lists its tensor inputs only (an op's numbers, dims and sizes are not edges)."""
    assert _option_inputs(ember) == _option_inputs(torch)


@pytest.mark.parametrize("expression", ["a.clone()", "a.clamp(-1, 1)", "a.logsumexp(0)",
                                        "fw.lerp(a, a.detach() * 2, 0.5)", "2 - a", "a.tril()"])
def test_node_hook_sees_one_gradient_per_listed_input(torch, expression):
    """PyTorch's Node.register_hook example: a hook returning one gradient per listed input
    replaces them (here doubled)."""
    def doubled_gradient(fw):
        a = fw.tensor([[0.5, -2.0], [1.5, 0.25]], dtype=fw.float64, requires_grad=True)
        output = eval(expression, {"fw": fw, "a": a})
        output.grad_fn.register_hook(lambda grad_inputs, grad_outputs:
                                     tuple(None if grad is None else grad * 2
                                           for grad in grad_inputs))
        output.sum().backward()
        return a.grad.numpy()

    expected = doubled_gradient(torch)
    assert (doubled_gradient(ember) == expected).all()


def _inplace_view_names(fw):
    """The nodes of in-place view changes, and a gradient through one."""
    names = []
    changes = (((2, 3), lambda x: x.squeeze_(0)), ((2, 1, 1), lambda x: x.squeeze_((1, 2))),
               ((2, 1, 1), lambda x: x.squeeze_()), ((2, 3), lambda x: x.swapaxes_(0, 1)),
               ((2, 3), lambda x: x.transpose_(0, 1)), ((3,), lambda x: x.t_()),
               ((3,), lambda x: x.unsqueeze_(0)))
    for shape, change in changes:
        x = fw.ones(*shape, requires_grad=True).clone()
        change(x)
        names.append(x.grad_fn.name())
    leaf = fw.tensor([1.0, 2.0, 3.0], requires_grad=True)
    doubled = leaf * 2
    doubled.unsqueeze_(0)
    (doubled * fw.tensor([[1.0, 10.0, 100.0]])).sum().backward()
    return names, leaf.grad.tolist()


def test_inplace_view_nodes_are_named_as_torch(torch):
    """PyTorch numbers in-place view changes after the out-of-place ops: TransposeBackward1,
    TBackward1, UnsqueezeBackward1 and SqueezeBackward3-5."""
    assert _inplace_view_names(ember) == _inplace_view_names(torch)


@pytest.mark.parametrize("expression", [
    "F.ctc_loss(logp, targets, lengths, target_lengths)",  # an op's own refusing backward
    "F.hardsigmoid(x)",
    "F.pdist(x)",  # PyTorch's pdist backward is an op of its own: PdistBackwardBackward0
])
def test_gradients_without_a_derivative_name_torchs_refusing_node(torch, expression):
    """A gradient made under create_graph by a backward with no derivative formula is the output
    of PyTorch's ``torch::autograd::NotImplemented`` node, printed as ``<NotImplemented>``, or of
    the backward op's own node where PyTorch has one."""
    names = []
    for fw in (torch, ember):
        generator = fw.Generator().manual_seed(0)
        logp = fw.randn(5, 2, 4, generator=generator).log_softmax(2).detach().requires_grad_()
        x = fw.randn(3, 2, generator=generator, requires_grad=True)
        namespace = {"F": fw.nn.functional, "logp": logp, "x": x,
                     "targets": fw.tensor([[1, 2], [1, 1]]), "lengths": fw.tensor([5, 5]),
                     "target_lengths": fw.tensor([2, 2])}
        loss = eval(expression, namespace).sum()
        source = logp if "ctc" in expression else x
        (gradient,) = fw.autograd.grad(loss, source, create_graph=True)
        names.append((gradient.grad_fn.name(), repr(gradient.grad_fn).split(" ")[0],
                      repr(gradient).rpartition("grad_fn=")[2]))
    assert names[1] == names[0]


def _saved_attributes(fw):
    """What PyTorch's autograd notes show of grad_fn._saved_*: a saved input is the tensor
    itself, a saved output an equal tensor (not the output object) whose grad_fn is the node,
    an item the backward does not need is None, and a freed node raises."""
    x = fw.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = fw.tensor([3.0, 4.0, -2.0])
    seen = []
    y = x.pow(2)
    seen += [x is y.grad_fn._saved_self, y.grad_fn._saved_exponent]
    for make in (lambda: x.exp(), lambda: x.tanh(), lambda: x.sigmoid(), lambda: x.relu(),
                 lambda: x.softmax(0)):
        out = make()
        saved = out.grad_fn._saved_result
        seen += [saved is out, saved.tolist() == out.tolist(), saved.grad_fn is out.grad_fn]
    product, quotient = x * w, x / w
    seen += [product.grad_fn._saved_self is None, product.grad_fn._saved_other.tolist(),
             quotient.grad_fn._saved_self is None, quotient.grad_fn._saved_other.tolist(),
             x.sin().grad_fn._saved_self is x]
    both = x * x.detach().requires_grad_()
    seen += [both.grad_fn._saved_self is x]
    freed = x.exp()
    freed.sum().backward()
    for name in ("_saved_result", "_saved_nothing"):
        try:
            getattr(freed.grad_fn, name)
        except (RuntimeError, AttributeError) as error:
            seen.append((type(error).__name__, str(error).replace("torch", "ember")))
    return seen


def test_saved_attributes_as_torch(torch):
    assert _saved_attributes(ember) == _saved_attributes(torch)
