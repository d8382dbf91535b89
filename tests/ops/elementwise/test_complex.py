"""Complex tensors against PyTorch: dtypes and promotion, creation, printing, the parts and
views (real, imag, view_as_real / view_as_complex, polar, complex), and gradients of real losses
through complex ops by PyTorch's convention (dL/dRe + i dL/dIm)."""
import numpy as np
import pytest

import ember

RNG = np.random.default_rng(0)
PAIRS_A = RNG.standard_normal((3, 4, 2))
PAIRS_B = RNG.standard_normal((3, 4, 2))
REAL = RNG.standard_normal((3, 4))


def _loss(value):
    """A real loss that weighs real and imaginary parts differently."""
    if value.is_complex():
        return (value.real ** 2 + 3 * value.imag).sum()
    return (value ** 2).sum()


CASES = {
    "mul": lambda fw, x, y, r: x * y,
    "mul_by_real": lambda fw, x, y, r: x * r,
    "mul_by_number": lambda fw, x, y, r: x * (2 - 1j),
    "div": lambda fw, x, y, r: x / y,
    "real_over_complex": lambda fw, x, y, r: r / y,
    "add_sub_neg": lambda fw, x, y, r: -(x + y - r),
    "abs": lambda fw, x, y, r: x.abs(),
    "angle": lambda fw, x, y, r: x.angle(),
    "conj": lambda fw, x, y, r: x.conj() * y,
    "parts": lambda fw, x, y, r: x.real * y.imag,
    "view_as_real": lambda fw, x, y, r: fw.view_as_real(x * y) * 2,
    "polar": lambda fw, x, y, r: fw.polar(r.abs() + 0.1, r) * x,
    "complex": lambda fw, x, y, r: fw.complex(r, r * 2) * x,
    "exp": lambda fw, x, y, r: x.exp(),
    "log": lambda fw, x, y, r: x.log(),
    "sqrt": lambda fw, x, y, r: x.sqrt(),
    "sin": lambda fw, x, y, r: x.sin(),
    "tanh": lambda fw, x, y, r: x.tanh(),
    "sigmoid": lambda fw, x, y, r: x.sigmoid(),
    "square": lambda fw, x, y, r: x ** 2,
    "complex_power": lambda fw, x, y, r: x ** (1.5 + 0.5j),
    "reciprocal": lambda fw, x, y, r: x.reciprocal(),
    "sum_mean": lambda fw, x, y, r: x.sum(1) * y.mean(1),
    "matmul": lambda fw, x, y, r: x @ y.T,
    "matmul_cast": lambda fw, x, y, r: x @ r.T.to(x.dtype),
    "einsum": lambda fw, x, y, r: fw.einsum("ij,kj->ik", x, y),
    "linear": lambda fw, x, y, r: fw.nn.functional.linear(x, y),
    "index_cat": lambda fw, x, y, r: fw.cat([x[1:, ::2], y[:2, 1::2]]),
    "reshape_expand": lambda fw, x, y, r: x.reshape(4, 3).T * y[:, :1].expand(3, 4),
    "where": lambda fw, x, y, r: fw.where(r > 0, x, y),
    "norm_squared": lambda fw, x, y, r: (x * x.conj()).real,
    "var_std_norm": lambda fw, x, y, r: x.var() + x.std(1).sum() + x.norm()
    + fw.linalg.vector_norm(y, 3, dim=0).sum(),
    "vdot": lambda fw, x, y, r: fw.vdot(x[0], y[1]),
    "sgn": lambda fw, x, y, r: x.sgn() * y,
    "inverse": lambda fw, x, y, r: fw.linalg.inv(x[:, :3]),
    "determinant": lambda fw, x, y, r: fw.linalg.det(x[:, :3]) * y,
    "solve": lambda fw, x, y, r: fw.linalg.solve(x[:, :3], y),
    "solve_vector": lambda fw, x, y, r: fw.linalg.solve(x[:, :3], y[:, 0]),
}


def _run(fw, name, dtype):
    a = fw.tensor(PAIRS_A, dtype=dtype, requires_grad=True)
    b = fw.tensor(PAIRS_B, dtype=dtype, requires_grad=True)
    r = fw.tensor(REAL, dtype=dtype, requires_grad=True)
    result = CASES[name](fw, fw.view_as_complex(a), fw.view_as_complex(b), r)
    _loss(result).backward()
    values = fw.view_as_real(result.detach()) if result.is_complex() else result.detach()
    return [values.numpy()] + [np.zeros(1) if t.grad is None else t.grad.numpy()
                               for t in (a, b, r)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_pytorch(torch, name):
    expected = _run(torch, name, torch.float64)
    got = _run(ember, name, ember.float64)
    for want, have in zip(expected, got):
        np.testing.assert_allclose(have, want, rtol=1e-10, atol=1e-12)


def test_float32_pairs_give_complex64_and_match_pytorch(torch):
    expected = _run(torch, "matmul", torch.float32)
    got = _run(ember, "matmul", ember.float32)
    for want, have in zip(expected, got):
        assert have.dtype == want.dtype
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-6)


def test_dtypes_and_promotion_match_pytorch(torch):
    assert ember.cfloat is ember.complex64 and ember.cdouble is ember.complex128
    assert ember.complex64.is_complex and not ember.complex64.is_floating_point
    assert ember.complex64.itemsize == 8 and ember.complex64.is_signed
    for first, second in [("complex64", "float64"), ("complex64", "float16"),
                          ("complex64", "int64"), ("complex128", "float32"),
                          ("complex64", "complex128")]:
        want = torch.promote_types(getattr(torch, first), getattr(torch, second))
        assert ember.promote_types(getattr(ember, first), getattr(ember, second)).name == \
            str(want).split(".")[1]
    cases = [(lambda fw: fw.ones(2, dtype=fw.float64) * fw.tensor(1j)),
             (lambda fw: fw.ones(2) * 1j), (lambda fw: fw.ones(2, dtype=fw.float64) * 1j),
             (lambda fw: fw.arange(2) * 1j), (lambda fw: fw.tensor([1 + 2j, 3])),
             (lambda fw: fw.full((2,), 1 + 2j)), (lambda fw: fw.tensor(2j))]
    for make in cases:
        assert str(make(ember).dtype).split(".")[1] == str(make(torch).dtype).split(".")[1]
    assert ember.tensor([1j]).is_complex() and ember.is_complex(ember.tensor([1j]))
    assert not ember.ones(1).is_complex()


@pytest.mark.parametrize("values", [
    [1.5 + 2j, -3.25 - 1j, 0.001j], [1 + 2j, 3 + 4j], [[1e5 + 1j, 2j]], 2 + 3j,
    [complex("nan") + 1j, complex("inf") - 2j], [0j, -0.0 - 0.0j]])
def test_printing_matches_pytorch(torch, values):
    assert repr(ember.tensor(values)).replace("ember", "torch") == repr(torch.tensor(values))


def test_long_and_double_complex_printing_matches_pytorch(torch):
    pairs = np.random.default_rng(1).standard_normal((2000, 2)).astype(np.float32)
    assert (repr(ember.view_as_complex(ember.tensor(pairs))).replace("ember", "torch")
            == repr(torch.view_as_complex(torch.from_numpy(pairs))))
    assert (repr(ember.tensor([1 + 1j], dtype=ember.complex128)).replace("ember", "torch")
            == repr(torch.tensor([1 + 1j], dtype=torch.complex128)))


def test_parts_are_views_that_write_through():
    z = ember.tensor([1 + 2j, 3 - 1j])
    z.real.mul_(10)
    z.imag[0] = 5.0
    ember.view_as_real(z)[1, 1] = 7.0
    assert z.tolist() == [10 + 5j, 30 + 7j]
    pairs = ember.zeros(2, 2)
    ember.view_as_complex(pairs).fill_(1 + 2j)
    assert pairs.tolist() == [[1.0, 2.0], [1.0, 2.0]]


@pytest.mark.parametrize("make", [
    lambda fw: fw.view_as_complex(fw.ones(3, 3)),
    lambda fw: fw.view_as_complex(fw.ones(3, 2, dtype=fw.int64)),
    lambda fw: fw.view_as_complex(fw.ones(2, 4)[:, ::2]),
    lambda fw: fw.view_as_real(fw.ones(3)),
    lambda fw: fw.ones(2).imag,
    lambda fw: fw.complex(fw.ones(2), fw.ones(2, dtype=fw.float64)),
    lambda fw: fw.polar(fw.ones(2, dtype=fw.int64), fw.ones(2, dtype=fw.int64)),
])
def test_errors_match_pytorch(torch, make):
    with pytest.raises(Exception) as expected:
        make(torch)
    with pytest.raises(type(expected.value)) as got:
        make(ember)
    assert str(got.value) == str(expected.value)


def test_random_complex_draws_have_unit_variance():
    z = ember.randn(200000, dtype=ember.cfloat, generator=ember.Generator().manual_seed(0))
    assert z.dtype == ember.complex64
    assert abs((z.abs() ** 2).mean().item() - 1.0) < 0.01
    assert abs(z.real.var().item() - 0.5) < 0.01 and abs(z.imag.mean().item()) < 0.01
    u = ember.rand(1000, dtype=ember.cdouble)
    assert u.dtype == ember.complex128 and 0 <= u.real.min().item() and u.imag.max().item() < 1


@pytest.mark.parametrize("optimizer, options", [
    ("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "amsgrad": True}), ("RMSprop", {"lr": 0.01})])
def test_optimizers_update_complex_parameters_as_pytorch(torch, optimizer, options):
    rng = np.random.default_rng(2)
    start = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    inputs = rng.standard_normal((5, 3)) + 1j * rng.standard_normal((5, 3))
    results = []
    for fw in (torch, ember):
        weight = fw.nn.Parameter(fw.tensor(start, dtype=fw.cfloat))
        x = fw.tensor(inputs, dtype=fw.cfloat)
        step = getattr(fw.optim, optimizer)([weight], **options)
        for _ in range(4):
            y = x @ weight
            loss = (y.abs() ** 2).mean() + y.real.sum() * 0.1
            step.zero_grad()
            loss.backward()
            step.step()
        results.append((fw.view_as_real(weight.detach()).numpy(),
                        str(step.state[weight]["exp_avg" if "Adam" in optimizer else
                                                "momentum_buffer" if optimizer == "SGD"
                                                else "square_avg"].dtype).split(".")[1]))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-5, atol=1e-6)
    assert results[1][1] == results[0][1]


def test_isreal_and_complex_matrices(torch):
    z = ember.tensor([1 + 0j, 2j, 3])
    assert z.isreal().tolist() == torch.tensor([1 + 0j, 2j, 3]).isreal().tolist()
    with pytest.raises(NotImplementedError, match="linalg.svd: ember does not support complex"):
        ember.linalg.svd(ember.eye(2, dtype=ember.cfloat))


def test_backward_of_a_complex_scalar_and_assert_close(torch):
    for fw in (torch, ember):
        z = fw.tensor([1 + 2j, 3j], requires_grad=True)
        with pytest.raises(RuntimeError, match="only for real scalar outputs but got "
                                               f"{fw.__name__}.complex64"):
            (z * 2).sum().backward()
        fw.testing.assert_close(z.detach(), z.detach() * 1.0000001)
        with pytest.raises(AssertionError, match="Mismatched elements: 2 / 2"):
            fw.testing.assert_close(z.detach(), z.detach() + 0.01j)


def test_complex_layers_fills_and_gradient_clipping_match_pytorch(torch):
    rng = np.random.default_rng(7)
    shapes = [(16, 8), (16,), (2, 16), (2,)]
    starts = [rng.standard_normal(shape) * 0.3 + 1j * rng.standard_normal(shape) * 0.3
              for shape in shapes]
    inputs = rng.standard_normal((32, 8)) + 1j * rng.standard_normal((32, 8))
    targets = rng.integers(0, 2, 32)
    losses, norms = [], []
    for fw in (torch, ember):
        first = fw.nn.Linear(8, 16, dtype=fw.cfloat)
        second = fw.nn.Linear(16, 2, dtype=fw.cfloat)
        params = [*first.parameters(), *second.parameters()]
        with fw.no_grad():
            for param, start in zip(params, starts):
                param.copy_(fw.tensor(start, dtype=fw.cfloat))
        optimizer = fw.optim.Adam(params, lr=1e-2)
        x = fw.tensor(inputs, dtype=fw.cfloat)
        run = []
        for _ in range(5):
            hidden = first(x)
            hidden = 0.5 * (1 + fw.cos(fw.angle(hidden))) * hidden  # the cardioid activation
            loss = fw.nn.functional.cross_entropy(second(hidden).abs(), fw.tensor(targets))
            optimizer.zero_grad()
            loss.backward()
            norms.append(float(fw.nn.utils.clip_grad_norm_(params, 1.0)))
            optimizer.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    np.testing.assert_allclose(norms[5:], norms[:5], rtol=1e-5)


def test_random_fills_of_complex_tensors():
    generator = ember.Generator().manual_seed(1)
    z = ember.empty(100000, dtype=ember.cfloat).uniform_(-2, 3, generator=generator)
    assert -2 <= z.real.min().item() and z.imag.max().item() < 3
    assert abs(z.real.mean().item() - 0.5) < 0.02 and abs(z.imag.mean().item() - 0.5) < 0.02
    w = ember.empty(100000, dtype=ember.cdouble).normal_(1.0, 2.0, generator=generator)
    # PyTorch fills the real view: both parts with mean 1 and std 2 / sqrt(2)
    assert abs(w.real.mean().item() - 1.0) < 0.02 and abs(w.imag.mean().item() - 1.0) < 0.02
    assert abs(((w - (1 + 1j)).abs() ** 2).mean().item() - 4.0) < 0.05
    layer = ember.nn.Linear(8, 4, dtype=ember.cfloat)  # kaiming_uniform_ fills both parts
    assert layer.weight.dtype == ember.complex64 and (layer.weight.imag != 0).all()


# ---- what PyTorch refuses for complex numbers, and two reductions it takes ------------------
_REFUSED = {
    "lt": lambda L, z: z < z, "gt_number": lambda L, z: L.gt(z, 1), "ge": lambda L, z: z >= z,
    "max": lambda L, z: z.max(), "max_dim": lambda L, z: z.max(0), "min": lambda L, z: z.min(),
    "amax": lambda L, z: z.amax(), "amin": lambda L, z: z.amin(),
    "argmax": lambda L, z: z.argmax(), "argmin": lambda L, z: z.argmin(0),
    "aminmax": lambda L, z: L.aminmax(z), "sort": lambda L, z: z.sort(),
    "argsort": lambda L, z: z.argsort(), "msort": lambda L, z: z.msort(),
    "topk": lambda L, z: z.topk(1), "kthvalue": lambda L, z: z.kthvalue(1),
    "median": lambda L, z: z.median(), "median_dim": lambda L, z: z.median(0),
    "mode": lambda L, z: z.mode(), "cummax": lambda L, z: z.cummax(0),
    "cummin": lambda L, z: z.cummin(0), "relu": lambda L, z: L.relu(z),
    "clamp": lambda L, z: z.clamp(0, 1), "clamp_min": lambda L, z: z.clamp_min(0),
    "hardtanh": lambda L, z: L.nn.functional.hardtanh(z), "floor": lambda L, z: z.floor(),
    "ceil": lambda L, z: z.ceil(), "trunc": lambda L, z: z.trunc(), "round": lambda L, z: z.round(),
    "maximum": lambda L, z: L.maximum(z, z), "fmin": lambda L, z: L.fmin(z, z),
    "sign": lambda L, z: z.sign(), "remainder": lambda L, z: z % 2,
    "fmod": lambda L, z: L.fmod(z, 2), "atan2": lambda L, z: L.atan2(z, z),
    "heaviside": lambda L, z: L.heaviside(z, z), "erf": lambda L, z: z.erf(),
    "erfc": lambda L, z: z.erfc(), "erfinv": lambda L, z: z.erfinv(),
}


@pytest.mark.parametrize("name", sorted(_REFUSED))
def test_ops_without_complex_kernels_refuse_as_torch(torch, name):
    values = np.array([1 + 2j, 3 - 1j, -0.5j], np.complex64)
    with pytest.raises(Exception) as expected:
        _REFUSED[name](torch, torch.tensor(values))
    with pytest.raises(type(expected.value)) as got:
        _REFUSED[name](ember, ember.tensor(values))
    assert str(got.value) == str(expected.value).replace("torch.", "ember.")


def _lse_and_lerp(library):
    rng = np.random.default_rng(3)
    z = library.tensor(rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3)),
                       requires_grad=True)
    end = library.tensor(rng.standard_normal(3) - 2j, requires_grad=True)
    weight = library.tensor(np.array([0.2 + 0.1j, 0.7, 0.5 - 0.5j]), requires_grad=True)
    lse = library.logsumexp(z, 1)
    mixed = library.lerp(z, end, weight) + library.lerp(z, end, 0.75)
    loss = (lse.real * lse.imag).sum() + (mixed.abs() ** 2).sum()
    loss.backward()
    return [lse.detach(), mixed.detach(), z.grad, end.grad, weight.grad]


def test_complex_logsumexp_and_lerp_match_torch(torch):
    for got, expected in zip(_lse_and_lerp(ember), _lse_and_lerp(torch)):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_complex_logsumexp_gradient_by_finite_differences():
    start = np.array([[0.3 + 1j, -1 + 0.5j, 2 - 2j]])

    def loss(values):
        out = ember.logsumexp(ember.tensor(values), 1)
        return float((out.real * 2 + out.imag ** 2).sum())

    z = ember.tensor(start, requires_grad=True)
    out = ember.logsumexp(z, 1)
    (out.real * 2 + out.imag ** 2).sum().backward()
    numeric = np.zeros_like(start)
    for index in np.ndindex(start.shape):
        for unit in (1, 1j):  # dL/dRe + i dL/dIm
            step = np.zeros_like(start)
            step[index] = 1e-6 * unit
            numeric[index] += unit * (loss(start + step) - loss(start - step)) / 2e-6
    np.testing.assert_allclose(z.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def _polar_second_derivatives(fw, magnitude, angle, dtype):
    """Hessian-vector products of a real loss of polar(magnitude, angle), by reverse over
    reverse (autograd.grad) and by func.hessian."""
    leaves = [fw.tensor(magnitude.astype(dtype), requires_grad=True),
              fw.tensor(angle.astype(dtype), requires_grad=True)]

    def loss(r, theta):
        return (fw.view_as_real(fw.polar(r, theta)) ** 2 * fw.tensor([0.7, -1.3], dtype=r.dtype)
                ).sum()
    grads = fw.autograd.grad(loss(*leaves), leaves, create_graph=True)
    second = fw.autograd.grad(sum((grad * grad).sum() for grad in grads), leaves)
    hessian = fw.func.hessian(loss, argnums=(0, 1))(*[leaf.detach() for leaf in leaves])
    return [value.detach().numpy() for value in (*second, *[h for row in hessian for h in row])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polar_second_derivatives_match_pytorch(torch, dtype):
    # the gradient's unit phasor is a function of the angle (ember had saved it as a constant,
    # which dropped the second derivatives through the angle)
    random = np.random.default_rng(0)
    magnitude = np.abs(random.standard_normal((3, 1))) + 0.5
    angle = random.standard_normal((1, 4))
    ours = _polar_second_derivatives(ember, magnitude, angle, dtype)
    theirs = _polar_second_derivatives(torch, magnitude, angle, dtype)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for mine, expected in zip(ours, theirs):
        assert mine.dtype == expected.dtype
        np.testing.assert_allclose(mine, expected, rtol=tolerance, atol=tolerance)


def _complex_derivatives(fw, name, create_graph):
    """Gradients (and, under create_graph, grad-of-grad) of a real loss of ``name`` applied to
    a complex tensor built from two real leaves."""
    random = np.random.default_rng(0)
    leaves = [fw.tensor(random.standard_normal((2, 3)), requires_grad=True) for _ in range(2)]
    weight = fw.tensor(random.standard_normal((2, 3, 2)))
    out = getattr(fw.complex(*leaves), name)()
    grads = fw.autograd.grad((fw.view_as_real(out) * weight).sum(), leaves,
                             create_graph=create_graph)
    results = list(grads)
    if create_graph:
        results += fw.autograd.grad(sum((grad * grad).sum() for grad in grads), leaves)
    return [result.detach().numpy() for result in results]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "sgn", "acosh"])
def test_complex_gradients_and_second_derivatives_match_pytorch(torch, name, create_graph):
    # ember had: sigmoid's recorded gradient without the conjugate, tanh's second derivative
    # through its real-only node, sgn's recorded gradient zero, and acosh's derivative
    # 1 / sqrt(z^2 - 1) on the wrong branch (PyTorch: 1 / (sqrt(z - 1) sqrt(z + 1)))
    ours = _complex_derivatives(ember, name, create_graph)
    theirs = _complex_derivatives(torch, name, create_graph)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)
