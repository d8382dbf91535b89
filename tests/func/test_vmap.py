"""vmap against torch.func.vmap: in_dims and out_dims (pytrees included), chunk_size, randomness,
the per-sample fallback, compositions with grad/jacrev/hessian (per-sample gradients), and the
errors users see."""
import re
import warnings

import numpy as np
import pytest

import ember
from ember.func import _vmap as vmap_module
from tests.conftest import assert_raises_like_torch, load_torch_state
from tests.func.helpers import assert_same_tree, inputs, tree_to_torch


def _both(torch, check):
    return check(ember), check(torch)


@pytest.fixture
def batched_only():
    """Fail the test if vmap falls back to one call per sample."""
    vmap_module._warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="vmap: there is no batching rule")
        yield


# ---- in_dims and out_dims ---------------------------------------------------------------------
@pytest.mark.parametrize("in_dims, shapes", [
    (0, [(4, 3)]),
    (1, [(3, 4)]),
    (-1, [(2, 3, 4)]),
    ((0, None), [(4, 3), (3,)]),
    ((1, 0), [(3, 4), (4, 3)]),
    ((None, 2), [(3,), (2, 3, 4)]),
])
def test_in_dims_match_torch(torch, batched_only, in_dims, shapes):
    def run(fw):
        values = inputs(fw, *shapes)
        if len(values) == 1:
            return fw.func.vmap(lambda a: (a * 2).exp().sum(-1), in_dims=in_dims)(*values)
        return fw.func.vmap(lambda a, b: a * b + 1, in_dims=in_dims)(*values)
    assert_same_tree(*_both(torch, run))


def test_nested_pytrees_of_inputs_and_outputs_match_torch(torch, batched_only):
    def run(fw):
        a, b, c, d = inputs(fw, (4, 3), (3, 4), (3,), (4,))

        def function(pair, table, scalar):
            first, second = pair
            return {"sum": first + table["y"], "pair": [second * scalar, table["x"]]}
        in_dims = ((0, 1), {"x": None, "y": 0}, 0)
        out_dims = {"sum": 1, "pair": [0, None]}
        return fw.func.vmap(function, in_dims=in_dims, out_dims=out_dims)(
            (a, b), {"x": c, "y": d}, d)
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("out_dims", [0, 1, -1, (1,), (0, 1), (None, 0)])
def test_out_dims_match_torch(torch, batched_only, out_dims):
    def run(fw):
        (x,) = inputs(fw, (4, 2, 3))
        if isinstance(out_dims, tuple) and len(out_dims) == 2:
            return fw.func.vmap(lambda a: (fw.ones(2, dtype=fw.float64) * 5, a.exp()),
                                out_dims=out_dims)(x)
        return fw.func.vmap(lambda a: a * 3, out_dims=out_dims)(x)
    assert_same_tree(*_both(torch, run))


def test_unbatched_outputs_are_broadcast_and_kwargs_are_not_mapped(torch, batched_only):
    def run(fw):
        (x,) = inputs(fw, (4, 3))
        constant = fw.func.vmap(lambda a: fw.ones(2, dtype=fw.float64))(x)
        keyword = fw.func.vmap(lambda a, scale: a * scale)(x, scale=fw.arange(3.0,
                                                                            dtype=fw.float64))
        return constant, keyword
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 10])
def test_chunk_size_gives_the_same_result(torch, batched_only, chunk_size):
    def run(fw):
        x, y = inputs(fw, (5, 3), (3, 5))
        return fw.func.vmap(lambda a, b: (a * b).sum(), in_dims=(0, 1),
                            chunk_size=chunk_size)(x, y)
    assert_same_tree(*_both(torch, run))


def test_nested_vmap_matches_torch(torch, batched_only):
    def run(fw):
        x, y = inputs(fw, (3, 4, 2), (4, 2))
        inner = fw.func.vmap(lambda a, b: (a * b).sum(), in_dims=(0, 0))
        outer = fw.func.vmap(inner, in_dims=(0, None))
        return outer(x, y), fw.func.vmap(fw.func.vmap(lambda a: a.exp()), in_dims=1)(x)
    assert_same_tree(*_both(torch, run))


@pytest.mark.parametrize("bad", [
    "sizes", "in_dims_type", "in_dim_range", "in_dim_float", "non_tensor_mapped",
    "no_inputs", "structure", "no_mapped_input", "out_dims_type", "out_dims_structure",
    "non_tensor_output", "batched_out_dim_none", "out_dim_range", "randomness_value",
    "chunk_size"])
def test_errors_match_torch(torch, bad):
    def call(fw):
        x, y = inputs(fw, (2, 3), (3, 3))
        vmap = fw.func.vmap
        cases = {
            "sizes": lambda: vmap(lambda a, b: a + b)(x, y),
            "in_dims_type": lambda: vmap(lambda a: a, in_dims=[0])(x),
            "in_dim_range": lambda: vmap(lambda a: a, in_dims=2)(x),
            "in_dim_float": lambda: vmap(lambda a: a, in_dims=(0.5,))(x),
            "non_tensor_mapped": lambda: vmap(lambda a: a)(3.0),
            "no_inputs": lambda: vmap(lambda: x)(),
            "structure": lambda: vmap(lambda a: a, in_dims=(0, 0))(x),
            "no_mapped_input": lambda: vmap(lambda a: a, in_dims=None)(x),
            "out_dims_type": lambda: vmap(lambda a: a, out_dims="a")(x),
            "out_dims_structure": lambda: vmap(lambda a: (a, a), out_dims=(0, 0, 0))(x),
            "non_tensor_output": lambda: vmap(lambda a: 1.0)(x),
            "batched_out_dim_none": lambda: vmap(lambda a: a, out_dims=None)(x),
            "out_dim_range": lambda: vmap(lambda a: a, out_dims=3)(x),
            "randomness_value": lambda: vmap(lambda a: a, randomness="sometimes"),
            "chunk_size": lambda: vmap(lambda a: a, chunk_size=0),
        }
        return cases[bad]
    ours, theirs = call(ember), call(torch)
    if bad == "structure":  # the messages quote each library's own pytree spec
        with pytest.raises(ValueError, match="in_dims is not compatible with the structure"):
            ours()
        return
    assert_raises_like_torch(theirs, ours, same_type=True)


def test_no_mapped_input_error():
    x = ember.ones(2)
    with pytest.raises(ValueError, match="vmap: Expected at least one Tensor to vmap over"):
        ember.func.vmap(lambda a, b: a, in_dims=(None, None))(x, x)


@pytest.mark.parametrize("use", ["item", "int", "bool", "tolist", "backward", "requires_grad_"])
def test_what_vmap_refuses_is_refused_as_in_torch(torch, use):
    def call(fw):
        (x,) = inputs(fw, (2, 3))
        function = {"item": lambda a: a.sum().item(), "int": lambda a: a[0] * int(a[1]),
                    "bool": lambda a: a * 2 if a.sum() > 0 else a,
                    "tolist": lambda a: a.tolist(),
                    "backward": lambda a: a.sum().backward(),
                    "requires_grad_": lambda a: a.requires_grad_()}[use]
        return lambda: fw.func.vmap(function)(x)
    assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


INPLACE_ON_UNMAPPED = {
    "mul_": lambda x, y: x.mul_(y),
    "sub_": lambda x, y: x.sub_(y),
    "copy_": lambda x, y: x.copy_(y),
    "masked_fill_": lambda x, y: x.masked_fill_(y > 2, 0.0),
    "addcmul_": lambda x, y: x.addcmul_(y, y),
}


@pytest.mark.parametrize("name", sorted(INPLACE_ON_UNMAPPED))
def test_inplace_change_of_an_unmapped_input_by_a_mapped_value_raises_like_torch(torch, name):
    """PyTorch refuses to write a batched value into a tensor that is not mapped over; ember
    wrote it once per sample (the last sample's value, or all of them accumulated)."""
    for fw in (torch, ember):
        x = fw.ones(3)
        y = fw.arange(6.0).reshape(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError):
                fw.func.vmap(INPLACE_ON_UNMAPPED[name], in_dims=(None, 0))(x, y)


def test_inplace_change_of_an_unmapped_input_by_an_unmapped_value_happens_once(torch):
    for fw in (torch, ember):
        x = fw.ones(3)
        out = fw.func.vmap(lambda a, b: a.add_(1) * b, in_dims=(None, 0))(x, fw.ones(2, 3))
        np.testing.assert_array_equal(x.numpy(), np.full(3, 2.0))
        np.testing.assert_array_equal(out.numpy(), np.full((2, 3), 2.0))


def test_training_batch_norm_with_unbatched_running_stats_is_refused_as_in_torch(torch):
    def call(fw, track_running_stats):
        (x,) = inputs(fw, (4, 2, 3), dtype="float32")
        layer = fw.nn.BatchNorm1d(3, track_running_stats=track_running_stats)
        return layer, lambda: fw.func.vmap(layer)(x)
    for fw in (torch, ember):
        layer, run = call(fw, True)
        with pytest.raises(RuntimeError, match="running_mean or running_var, which will be "
                                               "updated in place, were not batched"):
            run()
        assert not layer.running_mean.any()
    # Without running statistics every sample is normalised by its own statistics.
    theirs, ours = call(torch, False)[1](), call(ember, False)[1]()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_a_batched_tensor_prints_like_torch(capsys):
    ember.func.vmap(lambda a: print(a) or a)(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    printed = capsys.readouterr().out
    assert re.fullmatch(r"BatchedTensor\(lvl=\d+, bdim=0, value=\n"
                        r"    tensor\(\[\[1\., 2\.\],\n"
                        r"            \[3\., 4\.\]\]\)\n\)\n", printed), printed


# ---- randomness -------------------------------------------------------------------------------
def test_random_ops_are_refused_by_default_like_torch(torch):
    def call(fw, function):
        (x,) = inputs(fw, (3, 4))
        return lambda: fw.func.vmap(function(fw))(x)
    for function in (lambda fw: lambda a: a + fw.rand(4, dtype=fw.float64),
                     lambda fw: lambda a: fw.nn.functional.dropout(a, 0.5)):
        assert_raises_like_torch(call(torch, function), call(ember, function), same_type=True)


@pytest.mark.parametrize("randomness", ["error", "different", "same"])
@pytest.mark.parametrize("call", ["train", "eval", "module", "inplace", "unmapped", "jacfwd",
                                  "jacfwd_inplace", "hessian", "vmap_of_jvp", "vmap_of_grad",
                                  "vmap_of_jacrev", "vmap_of_grad_of_vmap", "grad_of_vmap"])
def test_rrelu_is_refused_under_vmap_like_torch(torch, randomness, call):
    """PyTorch has no batching rule for rrelu: vmap refuses it in every randomness mode (in
    evaluation and for unmapped inputs too); jacfwd, hessian, vmap of jvp and a grad-type
    transform inside the innermost vmap name the rrelu_with_noise it decomposes to there."""
    def run(fw):
        functional = fw.nn.functional
        x = fw.tensor([[-1.0, 2.0, -3.0], [0.5, -0.5, 4.0]], dtype=fw.float64)
        constant = -fw.ones(3, dtype=fw.float64)
        def vmap(function):
            return fw.func.vmap(function, randomness=randomness)

        def jacfwd(function):
            return fw.func.jacfwd(function, randomness=randomness)
        return {
            "train": lambda: vmap(lambda a: functional.rrelu(a, training=True))(x),
            "eval": lambda: vmap(lambda a: functional.rrelu(a, training=False))(x),
            "module": lambda: vmap(fw.nn.RReLU())(x),
            "inplace": lambda: vmap(lambda a: functional.rrelu(a * 1, training=True,
                                                               inplace=True))(x),
            "unmapped": lambda: vmap(lambda a: a + functional.rrelu(constant))(x),
            "jacfwd": lambda: jacfwd(lambda a: functional.rrelu(a, training=True))(x[0]),
            "jacfwd_inplace": lambda: jacfwd(lambda a: functional.rrelu_(a * 1))(x[0]),
            "hessian": lambda: fw.func.hessian(lambda a: functional.rrelu(a).sum())(x[0]),
            "vmap_of_jvp": lambda: vmap(lambda a: fw.func.jvp(functional.rrelu, (a,),
                                                              (a,))[1])(x),
            "vmap_of_grad": lambda: vmap(fw.func.grad(lambda a: functional.rrelu(a).sum()))(x),
            "vmap_of_jacrev": lambda: vmap(fw.func.jacrev(functional.rrelu))(x),
            "vmap_of_grad_of_vmap": lambda: vmap(fw.func.grad(
                lambda a: vmap(functional.rrelu)(a[None]).sum()))(x),
            "grad_of_vmap": lambda: fw.func.grad(lambda a: vmap(functional.rrelu)(a).sum())(x),
        }[call]
    assert_raises_like_torch(run(torch), run(ember), RuntimeError, same_type=True)


def test_rrelu_outside_vmap_still_differentiates_like_torch(torch):
    """Outside vmap, jacrev and jvp of rrelu run (the same slopes for the same seed)."""
    def run(fw):
        x = fw.tensor([-1.0, 2.0, -3.0], dtype=fw.float64)
        fw.manual_seed(3)
        jacobian = fw.func.jacrev(lambda a: fw.nn.functional.rrelu(a, training=True))(x)
        tangent = fw.func.jvp(fw.nn.functional.rrelu, (x,), (x,))[1]
        return jacobian, tangent
    assert_same_tree(run(ember), run(torch), rtol=1e-12)


def _draws_after_refusals(fw):
    """The default generator's next draws after vmap and jacfwd refused a random op (the
    default randomness="error"): PyTorch refuses the draw before making it."""
    fw.manual_seed(0)
    seen = []
    for transform in (fw.func.vmap, fw.func.jacfwd):
        for function in (lambda a: a + fw.rand(()), lambda a: fw.nn.functional.dropout(a, 0.5)):
            try:
                transform(function)(fw.zeros(3))
            except RuntimeError as error:
                seen.append(str(error)[:40])
            seen.append(fw.rand(1).item())
    return seen


def test_a_refused_random_op_leaves_the_generator_as_torch(torch):
    assert _draws_after_refusals(ember) == _draws_after_refusals(torch)


@pytest.mark.parametrize("chunk_size", [None, 2])
def test_randomness_same_and_different(chunk_size):
    x = ember.zeros(4, 3)
    same = ember.func.vmap(lambda a: a + ember.rand(3), randomness="same",
                           chunk_size=chunk_size)(x)
    assert np.all(same.numpy() == same.numpy()[0])
    same_dropout = ember.func.vmap(lambda a: ember.nn.functional.dropout(a + 1, 0.5),
                                   randomness="same", chunk_size=chunk_size)(ember.zeros(4, 50))
    assert np.all(same_dropout.numpy() == same_dropout.numpy()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        different = ember.func.vmap(lambda a: a + ember.rand(3), randomness="different",
                                    chunk_size=chunk_size)(x)
    rows = different.numpy()
    assert len({tuple(row) for row in rows}) == 4
    assert np.all((rows >= 0) & (rows < 1))


@pytest.mark.parametrize("draw", ["rand", "randn", "randn_like", "rand_like", "randint",
                                  "randint_like", "dropout", "nested", "bernoulli_p",
                                  "uniform_", "normal_", "normal_of_tensors"])
def test_different_randomness_draws_the_batch_at_once_like_torch(torch, batched_only, draw):
    """Under randomness="different" the factories and dropout draw every sample's values in one
    draw, as PyTorch does: its very numbers for the same seed (normal draws of 16 or more
    values take PyTorch's vectorised path, which per-sample draws would miss)."""
    def run(fw):
        x = fw.ones(4, 3, 5, dtype=fw.float64)
        function = {
            "rand": lambda a: a + fw.rand(3, 5, dtype=fw.float64),
            "randn": lambda a: a * fw.randn(a.shape, dtype=fw.float64),
            "randn_like": lambda a: fw.randn_like(a) - a,
            "rand_like": lambda a: fw.rand_like(a, dtype=fw.float32).double() + a,
            "randint": lambda a: fw.randint(0, 10, (5,)) + a,
            "randint_like": lambda a: fw.randint_like(a, 3, 9) * a,
            "dropout": lambda a: fw.nn.functional.dropout(a * 2, 0.4),
            "nested": lambda a: fw.func.vmap(lambda row: row + fw.randn(5, dtype=fw.float64),
                                             randomness="same")(a),
            "bernoulli_p": lambda a: a.bernoulli(0.3) + a,
            "uniform_": lambda a: a.clone().uniform_(2.0, 3.0) * a,
            "normal_": lambda a: a.clone().normal_(1.0, 2.0) - a,
            "normal_of_tensors": lambda a: fw.normal(a * 2, a * 0.5 + 1),
        }[draw]
        fw.manual_seed(7)
        return fw.func.vmap(function, randomness="different")(x)
    ours, theirs = run(ember), run(torch)
    assert_same_tree(ours, theirs, rtol=1e-6, atol=1e-7)
    rows = ours.reshape(4, -1).numpy()
    assert len({tuple(row) for row in rows}) == 4


# ---- the per-sample fallback ------------------------------------------------------------------
def test_the_fallback_warns_once_naming_the_op_and_gives_the_per_sample_result(torch):
    vmap_module._warned.clear()

    def function(fw):
        return lambda a: a * a.kthvalue(2).values
    (x,) = inputs(ember, (4, 3))
    with pytest.warns(UserWarning, match=r"no batching rule for ember\.ops\.reduce\.kthvalue;"):
        ours = ember.func.vmap(function(ember))(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = ember.func.vmap(function(ember))(x)
    theirs = torch.func.vmap(function(torch))(tree_to_torch(x, torch))
    assert_same_tree(ours, theirs)
    assert_same_tree(again, theirs)


def test_the_fallback_stacks_pytrees_along_out_dims(torch):
    def run(fw):
        (x,) = inputs(fw, (4, 3))
        return fw.func.vmap(lambda a: {"index": a.argmax(), "value": [a * 2]},
                            out_dims={"index": 0, "value": [1]})(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same_tree(*_both(torch, run))


def _custom_functions(fw):
    """Custom Functions as PyTorch's extending.func page writes them: old style (ctx in
    forward), setup_context without a vmap rule, generated rule, and a vmap staticmethod."""
    class Old(fw.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad

    class Cube(fw.autograd.Function):
        @staticmethod
        def forward(x):
            return x ** 3, 3 * x ** 2

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0], output[1])

        @staticmethod
        def backward(ctx, grad, grad_dx):
            x, dx = ctx.saved_tensors
            return grad * dx + grad_dx * 6 * x

    class Generated(Cube):
        generate_vmap_rule = True

    class Both(Generated):
        @staticmethod
        def vmap(info, in_dims, x):
            return Cube.apply(x), (in_dims[0], in_dims[0])

    class Ruled(Cube):
        @staticmethod
        def vmap(info, in_dims, x):
            calls.append((info.batch_size, info.randomness, in_dims[0] is None))
            cube, derivative = Cube.apply(x.movedim(in_dims[0], 0))
            return (cube + 100, derivative.sum(1)), (0, None)

    calls = []
    return Old, Cube, Generated, Both, Ruled, calls


def _straight_through(fw):
    """A straight-through round with a generated vmap rule: its backward (half the gradient)
    is not the derivative of its forward (zero), so the results show which one was used."""
    class RoundHalfGrad(fw.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, scale):
            return fw.round(x) * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[1])

        @staticmethod
        def backward(ctx, grad):
            (scale,) = ctx.saved_tensors
            return grad * 0.5 * scale, grad * 0.25

    return RoundHalfGrad


@pytest.mark.parametrize("use", ["per_sample_grads", "grad_of_vmap", "backward_after_vmap",
                                 "nested", "shared_scale", "jvp_refused"])
def test_generated_vmap_rule_keeps_the_functions_backward_like_torch(torch, batched_only, use):
    """PyTorch's generated rule runs the Function's forward, backward and jvp on the batch: the
    gradients under vmap are its backward's (those of its forward's ops would be zero)."""
    def run(fw):
        function = _straight_through(fw)
        x, scale = inputs(fw, (3, 4), (3, 4))
        x = x * 3
        if use == "per_sample_grads":
            return fw.func.vmap(fw.func.grad(lambda a, s: (function.apply(a, s) * a).sum(),
                                             argnums=(0, 1)))(x, scale)
        if use == "grad_of_vmap":
            return fw.func.grad(lambda a: (fw.func.vmap(function.apply)(a, scale) ** 2).sum())(x)
        if use == "backward_after_vmap":
            x.requires_grad_()
            out = fw.func.vmap(function.apply)(x, scale)
            return fw.autograd.grad((out * out).sum(), x)
        if use == "nested":
            stacked = fw.stack([x, x * 2])
            return fw.func.vmap(fw.func.vmap(fw.func.grad(
                lambda a, s: (function.apply(a, s) * a).sum())), in_dims=(0, None))(
                stacked, scale)
        if use == "shared_scale":
            return fw.func.vmap(fw.func.grad(lambda a, s: (function.apply(a, s) * s).sum(),
                                             argnums=1), in_dims=(0, None))(x, scale[0])
        return fw.func.vmap(lambda a: fw.func.jvp(lambda b: function.apply(b, 2.0), (a,),
                                                  (fw.ones_like(a),)))(x)
    if use == "jvp_refused":
        with pytest.raises(NotImplementedError) as theirs:
            run(torch)
        with pytest.raises(NotImplementedError) as ours:
            run(ember)
        assert str(ours.value) == str(theirs.value)
        return
    assert_same_tree(*_both(torch, run), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("use", ["grad_inside_vmap", "grad_outside_vmap", "backward_after_vmap"])
def test_vmap_staticmethod_and_the_functions_backward_like_torch(torch, batched_only, use):
    """A Function with its own vmap staticmethod (written with plain ops): a grad transform
    inside the vmap differentiates through the Function's backward (PyTorch applies the
    Function at the grad level first); outside the vmap, through the vmap rule's ops."""
    def run(fw):
        class RoundHalfGrad(fw.autograd.Function):
            @staticmethod
            def forward(x):
                return fw.round(x)

            @staticmethod
            def setup_context(ctx, inputs, output):
                pass

            @staticmethod
            def backward(ctx, grad):
                return grad * 0.5

            @staticmethod
            def vmap(info, in_dims, x):
                return fw.round(x) * 1.0, in_dims[0]

        (x,) = inputs(fw, (3, 4))
        x = x * 3
        if use == "grad_inside_vmap":
            return fw.func.vmap(fw.func.grad(lambda a: (RoundHalfGrad.apply(a) * a).sum()))(x)
        if use == "grad_outside_vmap":
            return fw.func.grad(lambda a: (fw.func.vmap(RoundHalfGrad.apply)(a) * a).sum())(x)
        x.requires_grad_()
        return fw.autograd.grad((fw.func.vmap(RoundHalfGrad.apply)(x) * x).sum(), x)
    assert_same_tree(*_both(torch, run), rtol=1e-12, atol=1e-12)


def test_custom_function_vmap_rules_match_torch(torch, batched_only):
    data = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 4.0]])
    results = []
    seen = []
    for fw in (torch, ember):
        Old, Cube, Generated, Both, Ruled, calls = _custom_functions(fw)
        assert Old.generate_vmap_rule is False and Generated.generate_vmap_rule is True
        x = fw.tensor(data)
        generated = fw.func.vmap(lambda value: Generated.apply(value)[0])(x)
        per_sample_grad = fw.func.vmap(fw.func.grad(
            lambda value: Generated.apply(value)[0].sum()))(x)
        ruled = fw.func.vmap(Ruled.apply, in_dims=1, randomness="same")(x)
        results.append([generated, per_sample_grad, *ruled])
        seen.append(calls)
    assert seen[1] == seen[0]
    for ours, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    Old, Cube, Generated, Both, Ruled, _ = _custom_functions(ember)
    TorchOld, TorchCube, _, TorchBoth, _, _ = _custom_functions(torch)
    for ours, theirs in ((Old, TorchOld), (Cube, TorchCube), (Both, TorchBoth)):
        assert_raises_like_torch(lambda: torch.func.vmap(theirs.apply)(torch.tensor(data)),
                                 lambda: ember.func.vmap(ours.apply)(ember.tensor(data)),
                                 RuntimeError)


# ---- compositions -------------------------------------------------------------------------------
def _mlp(fw):
    return fw.nn.Sequential(fw.nn.Linear(4, 8), fw.nn.Tanh(), fw.nn.Linear(8, 3))


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_per_sample_gradients_match_torch(torch, loss):
    """The DP-SGD pattern: vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)."""
    torch.manual_seed(0)
    theirs = _mlp(torch)
    ours = _mlp(ember)
    load_torch_state(ours, theirs)
    random = np.random.default_rng(0)
    features = random.standard_normal((6, 4)).astype(np.float32)
    labels = random.integers(0, 3, 6)
    targets = labels if loss == "cross_entropy" else np.eye(3, dtype=np.float32)[labels]

    def run(fw, model):
        params = {name: value.detach() for name, value in model.named_parameters()}

        def compute_loss(parameters, sample, target):
            prediction = fw.func.functional_call(model, parameters, (sample.unsqueeze(0),))
            if loss == "cross_entropy":
                return fw.nn.functional.cross_entropy(prediction, target.unsqueeze(0))
            return fw.nn.functional.mse_loss(prediction, target.unsqueeze(0))
        per_sample = fw.func.vmap(fw.func.grad(compute_loss), in_dims=(None, 0, 0))
        return per_sample(params, fw.tensor(features), fw.tensor(targets))
    with warnings.catch_warnings():
        if loss == "mse":  # batched all the way; cross_entropy's checks read the targets
            warnings.filterwarnings("error", message="vmap: there is no batching rule")
        else:
            warnings.simplefilter("ignore")
        ours_grads = run(ember, ours)
    assert_same_tree(ours_grads, run(torch, theirs), rtol=1e-5, atol=1e-6)


def test_per_sample_gradients_equal_one_backward_per_sample():
    torch_free = _mlp(ember)
    (x, y) = inputs(ember, (5, 4), (5, 3), dtype="float32")
    params = {name: value.detach() for name, value in torch_free.named_parameters()}

    def loss(parameters, sample, target):
        prediction = ember.func.functional_call(torch_free, parameters, (sample,))
        return ((prediction - target) ** 2).sum()
    per_sample = ember.func.vmap(ember.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for index in range(5):
        leaves = {name: value.clone().requires_grad_(True) for name, value in params.items()}
        loss(leaves, x[index], y[index]).backward()
        for name, value in leaves.items():
            np.testing.assert_allclose(per_sample[name][index].numpy(), value.grad.numpy(),
                                       rtol=1e-5, atol=1e-6)


def test_grad_of_vmap_and_vmap_of_jacobians_match_torch(torch, batched_only):
    def run(fw):
        x, w = inputs(fw, (4, 3), (3,))
        through = fw.func.grad(lambda a: fw.func.vmap(lambda row: (row * a).exp().sum())(x).sum())
        jacobians = fw.func.vmap(fw.func.jacrev(lambda row: (row * w).exp()))(x)
        hessians = fw.func.vmap(fw.func.hessian(lambda row: (row * row * w).exp().sum()))(x)
        forward = fw.func.vmap(fw.func.jacfwd(lambda row: (row * w).exp()))(x)
        return through(w), jacobians, hessians, forward
    assert_same_tree(*_both(torch, run))


def test_vmap_of_vjp_and_jvp_match_torch(torch, batched_only):
    def run(fw):
        x, v = inputs(fw, (4, 3), (4, 3))

        def pull_back(row, cotangent):
            _, vjp_fn = fw.func.vjp(lambda a: a.exp() * a, row)
            return vjp_fn(cotangent)[0]
        push_forward = fw.func.vmap(lambda row, tangent: fw.func.jvp(
            lambda a: a.exp() * a, (row,), (tangent,))[1])
        return fw.func.vmap(pull_back)(x, v), push_forward(x, v)
    assert_same_tree(*_both(torch, run))


def test_vmap_of_a_vjp_fn_taken_outside_runs_batched_like_torch(torch, batched_only):
    """The tutorials' Jacobian by vmap(vjp_fn)(basis) and the NTK's vjp_fn/jvp pair under
    nested vmaps: the cotangents' batch is newer than the vjp's levels, yet one batched
    backward gives torch's rows, with a graph only to a captured tensor that requires grad."""
    def run(fw):
        x, w, rows = inputs(fw, (3, 5), (4, 5), (2, 3))
        w.requires_grad_(True)
        F = fw.nn.functional

        def net(a):
            return F.relu(F.linear(a, w)).tanh() * a.sum()
        _, vjp_fn = fw.func.vjp(net, x[0].detach())
        (jacobian,) = fw.func.vmap(vjp_fn)(fw.eye(4))
        (plain,) = fw.func.vmap(fw.func.vjp(lambda a: (a * 2).sin(), x[0])[1])(fw.eye(5))

        def ntk(first, second):
            output, pull_back = fw.func.vjp(lambda a: net(a), first)

            def column(vector):
                (row,) = pull_back(vector)
                return fw.func.jvp(lambda a: net(a) * second.sum(), (first,), (row,))[1]
            return fw.func.vmap(column)(fw.eye(output.numel()))
        kernel = fw.func.vmap(fw.func.vmap(ntk, (None, 0)), (0, None))(x.detach(), rows)
        (weight_grad,) = fw.autograd.grad((jacobian * jacobian).sum(), w)
        flags = (jacobian.requires_grad, plain.requires_grad, kernel.requires_grad)
        return jacobian, plain, kernel, weight_grad, fw.tensor(flags)
    assert_same_tree(*_both(torch, run), rtol=1e-5, atol=1e-6)


def test_jacrev_of_jacrev_through_indexing_batches_its_embeds_like_torch(torch, batched_only,
                                                                        monkeypatch):
    """The tutorial's jacrev(jacrev(predict)): the outer rows come from one vmapped vjp through
    the inner Jacobian's reads and row selections, whose backward (Embed, writing a sample's
    values into zeros) has a batching rule, including advanced and accumulating keys."""
    from ember.func import _eager
    calls = []
    inner = _eager._autograd_grad
    monkeypatch.setattr(_eager, "_autograd_grad",
                        lambda *args, **kwargs: calls.append(1) or inner(*args, **kwargs))

    def run(fw):
        weight, x = inputs(fw, (3, 5), (5,))

        def predict(v):
            return (fw.nn.functional.linear(v, weight).tanh()[1:] * v[[0, 2]]).sin()
        hessian = fw.func.jacrev(fw.func.jacrev(predict))(x)
        _, pull_back = fw.func.vjp(lambda v: v[[0, 0, 3]] * v[1:4] + v[None, 2], x)
        (rows,) = fw.func.vmap(pull_back)(fw.eye(3, dtype=x.dtype))
        return hessian, rows
    ours = run(ember)
    assert len(calls) < 8  # the outer Jacobian's 16 rows one vjp each made 20 and more
    assert_same_tree(ours, run(torch))


def test_grad_inside_nested_vmaps_gives_per_sample_per_sample_gradients(torch, batched_only):
    def run(fw):
        x, y, w = inputs(fw, (3, 4), (2, 4), (4,))

        def loss(weights, a, b):
            return ((weights * a - b) ** 2).sum()
        inner = fw.func.vmap(fw.func.grad(loss), in_dims=(None, None, 0))
        return fw.func.vmap(inner, in_dims=(None, 0, None))(w, x, y)
    assert_same_tree(*_both(torch, run))


# ---- convolutions with per-sample weights, and per-sample classification losses ---------------
_NETS = {}


def _convolution_net(library):
    if library not in _NETS:
        _NETS[library] = _convolution_net_class(library)
    return _NETS[library]()


def _convolution_net_class(library):
    F = library.nn.functional

    class Net(library.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = library.nn.Conv2d(2, 4, 3, stride=2, padding=1)
            self.grouped = library.nn.Conv2d(4, 4, 3, groups=2, bias=False)
            self.up = library.nn.ConvTranspose2d(4, 3, 2, stride=2)
            self.line = library.nn.Conv1d(3, 2, 3, padding=1)
            self.head = library.nn.Linear(2 * 16, 5)

        def forward(self, x):
            x = F.relu(self.grouped(F.relu(self.conv(x))))
            x = F.max_pool2d(F.relu(self.up(x)), 1)
            x = self.line(x.flatten(2))
            return self.head(x.flatten(1))

    return Net


def _per_sample_gradients(library, model, data, targets, loss_options):
    func = library.func
    params = {name: value.detach() for name, value in model.named_parameters()}

    def loss(params, sample, target):
        logits = func.functional_call(model, params, (sample.unsqueeze(0),))
        return library.nn.functional.cross_entropy(logits, target.unsqueeze(0), **loss_options)

    return func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, data, targets)


@pytest.mark.parametrize("loss_options", [{}, {"label_smoothing": 0.1}, {"weight": "weights"}])
def test_per_sample_gradients_of_a_convolutional_net_match_torch(torch, batched_only,
                                                                   loss_options):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((5, 2, 8, 8)).astype(np.float32)
    targets = np.array([0, 2, 4, 1, 2])
    torch_model = _convolution_net(torch)
    ember_model = _convolution_net(ember)
    load_torch_state(ember_model, torch_model)
    results = {}
    for library, model in ((torch, torch_model), (ember, ember_model)):
        options = dict(loss_options)
        if "weight" in options:
            options["weight"] = library.tensor(np.linspace(0.5, 2, 5, dtype=np.float32))
        results[library] = _per_sample_gradients(library, model, library.tensor(data),
                                                 library.tensor(targets), options)
    assert_same_tree(results[ember], results[torch], rtol=2e-5, atol=2e-6)


def test_an_ensemble_of_convolutional_nets_matches_torch(torch, batched_only):
    """stack_module_state and vmap over functional_call: every convolution gets a batch of
    weights (the model ensembling tutorial, with convolutions)."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal((3, 4, 2, 8, 8)).astype(np.float32)
    torch_models = [_convolution_net(torch) for _ in range(3)]
    ember_models = [_convolution_net(ember) for _ in range(3)]
    for model, source in zip(ember_models, torch_models):
        load_torch_state(model, source)
    results = {}
    for library, models in ((torch, torch_models), (ember, ember_models)):
        params, buffers = library.func.stack_module_state(models)

        def run(params, buffers, x):
            return library.func.functional_call(models[0], (params, buffers), (x,))

        results[library] = library.func.vmap(run)(params, buffers, library.tensor(data))
    assert_same_tree(results[ember], results[torch], rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", ["indices", "probabilities", "nll"])
def test_per_sample_classification_losses_match_torch(torch, batched_only, reduction, kind):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((4, 3, 5)).astype(np.float32)
    weight = np.linspace(0.5, 2, 5, dtype=np.float32)
    if kind == "probabilities":
        target = rng.dirichlet(np.ones(5), (4, 3)).astype(np.float32)
    else:
        target = np.array([[0, 1, 4], [2, 2, 2], [1, 0, 3], [3, 3, 0]])

    def check(library):
        F = library.nn.functional
        x = library.tensor(logits, requires_grad=True)
        options = {"reduction": reduction}
        if kind != "probabilities":
            options["weight"] = library.tensor(weight)

        def loss(sample, sample_target):
            if kind == "nll":
                return F.nll_loss(F.log_softmax(sample, 1), sample_target, **options)
            # (torch's vmap cannot batch weighted, smoothed means: it masks by selection)
            smoothing = 0.0 if kind == "indices" and reduction == "mean" else 0.05
            return F.cross_entropy(sample, sample_target, label_smoothing=smoothing, **options)

        out = library.func.vmap(loss)(x, library.tensor(target))
        (grad,) = library.autograd.grad(out.sum(), x)
        return out, grad

    got, expected = _both(torch, check)
    assert_same_tree(got, expected, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_per_sample_mse_loss_and_its_gradients_match_torch(torch, batched_only, reduction):
    rng = np.random.default_rng(4)
    prediction = rng.standard_normal((5, 3, 2)).astype(np.float32)
    target = rng.standard_normal((5, 3, 2)).astype(np.float32)
    weights = rng.standard_normal((2, 2)).astype(np.float32)

    def check(library):
        F = library.nn.functional
        w = library.tensor(weights, requires_grad=True)

        def loss(sample, sample_target, w):
            return F.mse_loss(sample @ w, sample_target, reduction=reduction)

        per_sample = library.func.vmap(loss, in_dims=(0, 0, None))(
            library.tensor(prediction), library.tensor(target), w)
        grads = library.func.vmap(library.func.grad(lambda s, t, w: loss(s, t, w).sum(),
                                                    argnums=2), in_dims=(0, 0, None))(
            library.tensor(prediction), library.tensor(target), w)
        return per_sample, grads

    got, expected = _both(torch, check)
    assert_same_tree(got, expected, rtol=2e-6, atol=1e-6)


# ---- per-sample gradients through the layers of common models ---------------------------------
def _normalized_net(library):
    nn = library.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(7, 8, padding_idx=0)
            self.attend = nn.MultiheadAttention(8, 2, batch_first=True)
            self.norm = nn.LayerNorm(8)
            self.conv = nn.Conv1d(8, 4, 3, padding=1)
            self.group = nn.GroupNorm(2, 4)
            self.batch = nn.BatchNorm1d(4)
            self.head = nn.Linear(4, 3)

        def forward(self, tokens):
            x = self.embed(tokens)
            attended, _ = self.attend(x, x, x)
            x = self.norm(x + attended).transpose(1, 2)
            x = self.batch(self.group(self.conv(x)).relu())
            return self.head(x.mean(-1))
    return Net()


@pytest.mark.parametrize("mode", ["eval", "batch_norm_replaced"])
def test_per_sample_gradients_through_embedding_attention_and_norms_match_torch(
        torch, batched_only, mode):
    """Embedding (with a padding row), MultiheadAttention, LayerNorm, GroupNorm and BatchNorm
    (eval, or training without running statistics) each get batched parameters."""
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 7, (4, 5))
    tokens[0, :2] = 0
    targets = np.array([0, 2, 1, 2])
    torch.manual_seed(0)
    torch_model = _normalized_net(torch)
    ember_model = _normalized_net(ember)
    load_torch_state(ember_model, torch_model)
    results = []
    for library, model in ((ember, ember_model), (torch, torch_model)):
        if mode == "eval":
            model.eval()
        else:
            library.func.replace_all_batch_norm_modules_(model)
        func = library.func
        params = {name: value.detach() for name, value in model.named_parameters()}
        buffers = {name: value.detach() for name, value in model.named_buffers()}

        def loss(params, sample, target):
            logits = func.functional_call(model, (params, buffers), (sample.unsqueeze(0),))
            return library.nn.functional.cross_entropy(logits, target.unsqueeze(0))
        results.append(func.vmap(func.grad_and_value(loss), in_dims=(None, 0, 0))(
            params, library.tensor(tokens), library.tensor(targets)))
    assert_same_tree(*results, rtol=2e-5, atol=2e-6)
    assert float(results[0][0]["embed.weight"][0, 0].abs().sum()) == 0.0


def test_an_ensemble_with_batch_norm_in_eval_matches_torch(torch, batched_only):
    def build(library):
        return library.nn.Sequential(library.nn.Linear(4, 6), library.nn.BatchNorm1d(6),
                                     library.nn.Linear(6, 3)).eval()
    results = []
    torch.manual_seed(0)
    torch_models = [build(torch) for _ in range(3)]
    for model in torch_models:
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    ember_models = [build(ember) for _ in range(3)]
    for model, source in zip(ember_models, torch_models):
        load_torch_state(model, source)
    x = np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32)
    for library, models in ((ember, ember_models), (torch, torch_models)):
        params, buffers = library.func.stack_module_state(models)

        def run(params, buffers, data):
            return library.func.functional_call(models[0], (params, buffers), (data,))
        results.append(library.func.vmap(run, in_dims=(0, 0, None))(params, buffers,
                                                                    library.tensor(x)))
    assert_same_tree(*results, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", ["max", "sort", "topk", "kthvalue"])
def test_named_results_keep_their_type_through_vmap_like_torch(torch, name):
    """max(dim)'s and sort's (values, indices) come back as the same return type, whether the
    call was batched or ran once per sample."""
    def run(fw):
        (x,) = inputs(fw, (3, 2, 4))
        call = {"max": lambda a: a.max(-1), "sort": lambda a: a.sort(0),
                "topk": lambda a: a.topk(2), "kthvalue": lambda a: a.kthvalue(2, 1)}[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fw.func.vmap(call)(x)
    ours, theirs = _both(torch, run)
    assert type(ours).__name__ == type(theirs).__name__ == name
    assert_same_tree(tuple(ours), tuple(theirs))
    assert_same_tree(ours.values, theirs.values)


def _setitem(target, value):
    target[0] = value
    return target


INPLACE_INTO_UNBATCHED = {
    "add_": lambda fw, a: fw.ones(4).add_(a, alpha=2),
    "mul_": lambda fw, a: fw.ones(4).mul_(a),
    "copy_": lambda fw, a: fw.zeros(4).copy_(a),
    "setitem": lambda fw, a: _setitem(fw.zeros(4), a[0]),
    "index_put_": lambda fw, a: fw.zeros(4).index_put_((fw.tensor([1]),), a[:1]),
    "index_add_": lambda fw, a: fw.zeros(4).index_add_(0, fw.tensor([1]), a[:1]),
    "addcmul_": lambda fw, a: fw.ones(4).addcmul_(a, a),
    "clamp_": lambda fw, a: fw.ones(4).clamp_(min=a),
    "scatter_": lambda fw, a: fw.ones(4).scatter_(0, fw.tensor([1]), a[:1]),
}


@pytest.mark.parametrize("name", sorted(INPLACE_INTO_UNBATCHED))
def test_a_batched_value_written_into_a_tensor_made_inside_is_refused_like_torch(torch, name):
    """The per-sample fallback would write each sample's value in turn; PyTorch refuses."""
    def call(fw):
        (x,) = inputs(fw, (3, 4), dtype="float32")
        return lambda: fw.func.vmap(lambda a: INPLACE_INTO_UNBATCHED[name](fw, a))(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


def test_a_batched_value_written_into_an_unmapped_input_is_refused_like_torch(torch):
    def call(fw, method):
        x, y = inputs(fw, (3, 4), (4,), dtype="float32")
        return lambda: fw.func.vmap(lambda a, b: getattr(b, method)(a), in_dims=(0, None))(x, y)
    for method in ("add_", "sub_"):
        assert_raises_like_torch(call(torch, method), call(ember, method), RuntimeError,
                                 same_type=True)


@pytest.mark.parametrize("use", ["nonzero", "unique", "unique_consecutive", "data_ptr",
                                 "boolean_mask"])
def test_ops_of_value_dependent_shape_and_storage_are_refused_like_torch(torch, use):
    """The per-sample fallback would stack per-sample results of equal shapes by chance."""
    def call(fw):
        x = fw.ones(3, 4)
        function = {"nonzero": lambda a: a.nonzero(), "unique": lambda a: a.unique(),
                    "unique_consecutive": lambda a: a.unique_consecutive(),
                    "data_ptr": lambda a: a.data_ptr(), "boolean_mask": lambda a: a[a > 0]}[use]
        return lambda: fw.func.vmap(function)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call(torch), call(ember), RuntimeError)


@pytest.mark.parametrize("use", ["bernoulli", "normal", "poisson", "bernoulli_p"])
def test_same_randomness_from_a_batched_tensor_is_refused_like_torch(torch, use):
    def call(fw):
        x = fw.full((3, 4), 0.5)
        function = {"bernoulli": lambda a: fw.bernoulli(a), "normal": lambda a: fw.normal(0.0, a),
                    "poisson": lambda a: fw.poisson(a),
                    "bernoulli_p": lambda a: a.bernoulli(0.3)}[use]
        return lambda: fw.func.vmap(function, randomness="same")(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_raises_like_torch(call(torch), call(ember), RuntimeError, same_type=True)


def test_inplace_ops_on_batched_tensors_batch_and_differentiate_like_torch(torch, batched_only):
    """In-place ops on batched values (views of them included, an input mapped over too) write
    the batched result in place, once, and gradients flow as through the out-of-place ops."""
    def run(fw):
        x, weight = inputs(fw, (3, 2, 4), (4, 5), requires_grad=True)
        mutated = x.detach().clone()

        def function(sample, weight, mutable):
            hidden = sample @ weight
            hidden.add_(1)
            hidden[0:1].mul_(3)
            hidden.relu_()
            copy = sample.clone()
            copy[:, 0].zero_()
            copy.masked_fill_(sample > 0.5, 2.0)
            mutable.mul_(2)
            return (hidden * hidden).sum() + (copy * sample).sum()
        out = fw.func.vmap(function, in_dims=(0, None, 0))(x, weight, mutated)
        per_sample = fw.func.vmap(fw.func.grad(function, argnums=(0, 1)), in_dims=(0, None, 0))(
            x.detach(), weight.detach(), mutated.clone())
        return out, mutated, fw.autograd.grad(out.sum(), (x, weight)), per_sample
    assert_same_tree(*_both(torch, run), rtol=1e-6, atol=1e-9)


def test_dropout_with_same_randomness_batches_one_mask_for_every_sample(batched_only):
    (x,) = inputs(ember, (4, 50), requires_grad=True)
    ember.manual_seed(3)
    out = ember.func.vmap(lambda a: ember.nn.functional.dropout(a, 0.4), randomness="same")(x)
    ember.manual_seed(3)
    mask = ember.nn.functional.dropout(ember.ones(50, dtype=x.dtype), 0.4)
    np.testing.assert_array_equal(out.detach().numpy(), x.detach().numpy() * mask.numpy())
    (gradient,) = ember.autograd.grad(out.sum(), x)
    np.testing.assert_array_equal(gradient.numpy(), np.broadcast_to(mask.numpy(), (4, 50)))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_layers_batch_with_shared_and_per_sample_weights(batched_only, kind):
    """Where PyTorch's vmap runs a recurrent layer (under a grad transform; a GRU given a batched
    initial state): shared weights merge the vmap batch into the sequences' batch, an ensemble's
    weights run the layer once per member. Both equal one call per sample."""
    layer = getattr(ember.nn, kind)(3, 4, num_layers=2, bidirectional=True)
    x, initial = inputs(ember, (3, 5, 2, 3), (3, 4, 2, 4), dtype="float32")
    params = {name: value.detach() for name, value in layer.named_parameters()}

    def loss(params, sample, state):
        state = (state, state) if kind == "LSTM" else state
        return ember.func.functional_call(layer, params, (sample, state))[0].pow(2).sum()
    per_sample = ember.func.vmap(ember.func.grad(loss), in_dims=(None, 0, 0))(params, x, initial)
    for index in range(3):
        alone = ember.func.grad(loss)(params, x[index], initial[index])
        for name in params:
            np.testing.assert_allclose(per_sample[name][index].numpy(), alone[name].numpy(),
                                       rtol=1e-5, atol=1e-6)
    members = [{name: value * (1 + 0.1 * index) for name, value in params.items()}
               for index in range(3)]
    stacked = {name: ember.stack([member[name] for member in members]) for name in params}
    ensemble = ember.func.vmap(ember.func.grad(loss), in_dims=(0, None, None))(
        stacked, x[0], initial[0])
    for index in range(3):
        alone = ember.func.grad(loss)(members[index], x[0], initial[0])
        for name in params:
            np.testing.assert_allclose(ensemble[name][index].numpy(), alone[name].numpy(),
                                       rtol=1e-5, atol=1e-6)


def _recurrent_vmap_call(fw, kind, transform, state):
    """vmap over a recurrent layer or cell: forward only, or the per-sample grad of
    ``transform``; ``state``: None, a captured zero state, or one mapped with the input."""
    fw.manual_seed(0)
    cell = kind.endswith("Cell")
    module = getattr(fw.nn, kind)(3, 4, **({} if cell else {"batch_first": True}))
    x = fw.randn(3, 2, 3) if cell else fw.randn(3, 2, 5, 3)
    state_shape = (2, 4) if cell else (1, 2, 4)
    states = fw.zeros((3,) + state_shape)
    lstm = kind.startswith("LSTM")

    def run(sample, state_sample):
        if state == "captured":
            state_sample = fw.zeros(state_shape)
        initial = None if state is None else (
            (state_sample, state_sample) if lstm else state_sample)
        out = module(sample, initial)
        return out[0] if isinstance(out, tuple) else out
    if transform == "grad":
        return lambda: fw.func.vmap(fw.func.grad(lambda *a: run(*a).sum()))(x, states)
    return lambda: fw.func.vmap(run)(x, states)


@pytest.mark.parametrize("kind", ["GRU", "RNN", "LSTM", "GRUCell", "RNNCell", "LSTMCell"])
@pytest.mark.parametrize("transform, state", [("forward", None), ("forward", "mapped"),
                                              ("grad", None), ("grad", "captured"),
                                              ("grad", "mapped")])
def test_recurrent_vmap_runs_or_fails_as_torch(torch, kind, transform, state):
    """PyTorch's vmap has no batching rule for its recurrent layers and LSTM cell (forward only:
    its error), and under grad a batched input with an unbatched state fails writing into the
    state, except in an LSTM layer; where PyTorch runs, ember's values equal its."""
    theirs = _recurrent_vmap_call(torch, kind, transform, state)
    ours = _recurrent_vmap_call(ember, kind, transform, state)
    try:
        expected = theirs()
    except RuntimeError:
        assert_raises_like_torch(theirs, ours, RuntimeError, same_type=True)
        return
    np.testing.assert_allclose(ours().detach().numpy(), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_per_sample_gradients_of_an_lstm_classifier_match_torch(torch, batched_only):
    def build(library):
        class Net(library.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = library.nn.LSTM(4, 5, batch_first=True)
                self.head = library.nn.Linear(5, 3)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])
        return Net()
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(ember)
    load_torch_state(ours, theirs)
    data = np.random.default_rng(5).standard_normal((4, 6, 4)).astype(np.float32)
    targets = np.array([0, 2, 1, 1])
    results = [_per_sample_gradients(library, model, library.tensor(data),
                                     library.tensor(targets), {})
               for library, model in ((ember, ours), (torch, theirs))]
    assert_same_tree(*results, rtol=2e-5, atol=2e-6)


def test_random_draws_from_a_given_generator_are_refused_by_default_like_torch(torch):
    def call(fw, randomness):
        generator = fw.Generator().manual_seed(1)
        return lambda: fw.func.vmap(lambda a: a + fw.rand(4, generator=generator),
                                    randomness=randomness)(fw.zeros(3, 4))
    assert_raises_like_torch(call(torch, "error"), call(ember, "error"), RuntimeError,
                             same_type=True)
    same = call(ember, "same")()
    assert np.all(same.numpy() == same.numpy()[0])
    generator = ember.Generator().manual_seed(1)
    assert ember.rand(4, generator=generator).shape == (4,)  # allowed again outside vmap


@pytest.mark.parametrize("case", ["seed only", "seed then draw", "seed then state after",
                                  "seed, same randomness, draw", "nested seed",
                                  "seed, different randomness"])
def test_manual_seed_inside_vmap_is_allowed_like_torch(torch, case):
    """PyTorch's vmap lets the function reseed (randomness="error" refuses draws only); a draw
    after the reseed is still refused, and the generator's state afterwards is torch's."""
    def run(library):
        vmap = library.func.vmap
        seeded = lambda x: (library.manual_seed(5), x)[1]
        drawing = lambda x: (library.manual_seed(5), x + library.rand(2))[1]
        library.manual_seed(0)
        if case == "seed only":
            return vmap(seeded)(library.ones(3, 2)).numpy()
        if case == "seed then draw":
            return vmap(drawing)(library.ones(3, 2)).numpy()
        if case == "seed then state after":
            vmap(seeded)(library.ones(3, 2))
            return library.rand(2).numpy()
        if case == "seed, same randomness, draw":
            return vmap(drawing, randomness="same")(library.ones(3, 2)).numpy()
        if case == "nested seed":
            return vmap(vmap(seeded))(library.ones(3, 2)).numpy()
        return vmap(seeded, randomness="different")(library.ones(3, 2)).numpy()

    try:
        expected = run(torch)
    except RuntimeError:
        assert_raises_like_torch(lambda: run(torch), lambda: run(ember), RuntimeError,
                                 same_type=True)
        return
    np.testing.assert_allclose(run(ember), expected, rtol=1e-6)
