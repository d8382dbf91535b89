"""ember.distributions.transforms against torch 2.13: forward, inverse and log|det J| values and
gradients, domains, codomains, shapes, sign, equality and caching."""
import numpy as np
import pytest

import ember
import ember.distributions as distributions
from ember.autograd import gradcheck
from tests.conftest import assert_close, assert_raises_like_torch

RANDOM = np.random.default_rng(7)
REAL = RANDOM.normal(size=(4, 3))
POSITIVE = RANDOM.uniform(0.2, 3.0, size=(4, 3))
SQUARE = RANDOM.normal(size=(2, 3, 3))

# name, constructor (given the module), input values in the domain
TRANSFORMS = [
    ("Exp", lambda module: module.ExpTransform(), REAL),
    ("Affine(number)", lambda module: module.AffineTransform(0.5, -2.0), REAL),
    ("Affine(tensor, event_dim=1)", lambda module: module.AffineTransform(
        module.tensor([0.5, 1.0, -1.0]), module.tensor([2.0, -0.5, 3.0]), event_dim=1), REAL),
    ("Sigmoid", lambda module: module.SigmoidTransform(), REAL),
    ("Softplus", lambda module: module.SoftplusTransform(), REAL),
    ("Tanh", lambda module: module.TanhTransform(), REAL),
    ("Power", lambda module: module.PowerTransform(module.tensor(2.5)), POSITIVE),
    ("StickBreaking", lambda module: module.StickBreakingTransform(), REAL),
    ("Compose", lambda module: module.ComposeTransform(
        [module.AffineTransform(1.0, 2.0), module.ExpTransform()]), REAL),
    ("Compose(to simplex)", lambda module: module.ComposeTransform(
        [module.ExpTransform().inv.inv, module.StickBreakingTransform()]), REAL),
    ("Independent(Exp)", lambda module: module.IndependentTransform(module.ExpTransform(), 1),
     REAL),
    ("Reshape", lambda module: module.ReshapeTransform((3,), (3, 1)), REAL),
    ("Inverse(Sigmoid)", lambda module: module.SigmoidTransform().inv,
     1 / (1 + np.exp(-REAL))),
    ("CorrCholesky", lambda module: module.CorrCholeskyTransform(), RANDOM.normal(size=(2, 6))),
    ("Cat", lambda module: module.CatTransform(
        [module.ExpTransform(), module.AffineTransform(1.0, 3.0)], dim=-1, lengths=[2, 1]), REAL),
    ("Cat(batch dim)", lambda module: module.CatTransform(
        [module.ExpTransform(), module.SigmoidTransform()], dim=0, lengths=[3, 1]), REAL),
    ("Stack", lambda module: module.StackTransform(
        [module.ExpTransform(), module.TanhTransform(), module.AffineTransform(0.0, 2.0)],
        dim=-1), REAL),
]
IDS = [row[0] for row in TRANSFORMS]


def _namespace(torch_or_ember):
    """The transforms with the module's tensor factory beside them."""
    class Namespace:
        pass
    namespace = Namespace()
    source = torch_or_ember.distributions.transforms
    for name in source.__all__:
        setattr(namespace, name, getattr(source, name))
    namespace.tensor = lambda data: torch_or_ember.tensor(np.asarray(data, dtype=np.float64))
    return namespace


@pytest.mark.parametrize("name, build, values", TRANSFORMS, ids=IDS)
def test_transform_matches_torch(torch, name, build, values):
    ours = build(_namespace(ember))
    theirs = build(_namespace(torch))
    our_x = ember.tensor(values, requires_grad=True)
    their_x = torch.tensor(values, requires_grad=True)
    our_y = ours(our_x)
    their_y = theirs(their_x)
    assert_close(our_y, their_y, rtol=1e-12, atol=1e-12)
    assert_close(ours.inv(our_y.detach()), theirs.inv(their_y.detach()), rtol=1e-9, atol=1e-9)
    assert repr(ours.domain) == repr(theirs.domain)
    assert repr(ours.codomain) == repr(theirs.codomain)
    assert ours.bijective == theirs.bijective
    assert tuple(ours.forward_shape(ember.Size(values.shape))) == \
        tuple(theirs.forward_shape(torch.Size(values.shape)))
    assert tuple(ours.inverse_shape(our_y.shape)) == tuple(theirs.inverse_shape(their_y.shape))
    if not theirs.bijective:
        return
    our_log_det = ours.log_abs_det_jacobian(our_x, our_y)
    their_log_det = theirs.log_abs_det_jacobian(their_x, their_y)
    assert_close(our_log_det, their_log_det, rtol=1e-10, atol=1e-12)
    if their_log_det.requires_grad:
        (our_grad,) = ember.autograd.grad(our_log_det.sum(), [our_x])
        (their_grad,) = torch.autograd.grad(their_log_det.sum(), [their_x])
        assert_close(our_grad, their_grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, build, values", TRANSFORMS, ids=IDS)
def test_transform_gradcheck(name, build, values):
    transform = build(_namespace(ember))

    def forward_and_log_det(x):
        y = transform(x)
        if not transform.bijective:
            return y
        return y.sum() + transform.log_abs_det_jacobian(x, y).sum()

    values = values if "batch dim" in name else values[:2]
    assert gradcheck(forward_and_log_det, [ember.tensor(values, requires_grad=True)])


def test_the_log_det_is_the_log_of_the_jacobian_determinant():
    """StickBreaking maps R^(K-1) onto the first K-1 coordinates of the simplex: log|det| of that
    square Jacobian, by autograd, is its log_abs_det_jacobian."""
    transform = distributions.StickBreakingTransform()
    x = ember.tensor(REAL[0], requires_grad=True)
    jacobian = ember.autograd.functional.jacobian(lambda value: transform(value)[:-1], x)
    expected = np.log(abs(np.linalg.det(jacobian.numpy())))
    assert_close(transform.log_abs_det_jacobian(x, transform(x)).detach(),
                 ember.tensor(expected), rtol=1e-10, atol=1e-12)


def test_softmax_and_abs_are_not_bijective(torch):
    for name in ("SoftmaxTransform", "AbsTransform"):
        assert getattr(distributions, name)().bijective is \
            getattr(torch.distributions, name)().bijective is False
    x = np.array([[0.2, -1.0, 3.0]])
    assert_close(distributions.SoftmaxTransform()(ember.tensor(x)),
                 torch.distributions.SoftmaxTransform()(torch.tensor(x)))
    assert_close(distributions.AbsTransform().inv(ember.tensor(x)), ember.tensor(x))


def test_lower_cholesky_and_positive_definite_transforms_match_torch(torch):
    for name in ("LowerCholeskyTransform", "PositiveDefiniteTransform"):
        ours = getattr(distributions, name)()
        theirs = getattr(torch.distributions, name)()
        our_y = ours(ember.tensor(SQUARE))
        their_y = theirs(torch.tensor(SQUARE))
        assert_close(our_y, their_y, rtol=1e-12, atol=1e-12)
        assert_close(ours.inv(our_y), theirs.inv(their_y), rtol=1e-9, atol=1e-9)
        assert bool(ours.codomain.check(our_y).all())


def test_sign_equality_inverse_and_repr(torch):
    transforms = distributions.transforms
    assert transforms.ExpTransform() == transforms.ExpTransform()
    assert transforms.ExpTransform() != transforms.SigmoidTransform()
    assert transforms.AffineTransform(0.0, 2.0) == transforms.AffineTransform(0.0, 2.0)
    assert transforms.AffineTransform(0.0, 2.0) != transforms.AffineTransform(0.0, 3.0)
    assert transforms.AffineTransform(0.0, -2.0).sign == -1
    exp = transforms.ExpTransform()
    assert exp.inv.inv is exp
    assert exp.inv == transforms.ExpTransform().inv
    composed = transforms.ComposeTransform([exp, transforms.AffineTransform(0.0, -1.0)])
    assert composed.sign == -1
    assert composed.inv.inv is composed
    their_composed = torch.distributions.transforms.ComposeTransform(
        [torch.distributions.transforms.ExpTransform(),
         torch.distributions.transforms.AffineTransform(0.0, -1.0)])
    assert repr(composed) == repr(their_composed)
    assert repr(exp.inv) == repr(torch.distributions.transforms.ExpTransform().inv)
    assert transforms.identity_transform(ember.tensor([1.5])).item() == 1.5
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        transforms.ExpTransform(cache_size=2)


def test_a_cached_transform_returns_the_input_it_saw():
    transform = distributions.ExpTransform(cache_size=1)
    x = ember.tensor([0.0, 700.0], dtype=ember.float64)
    y = transform(x)
    assert transform.inv(y) is x
    assert transform(x) is y
    assert distributions.ExpTransform().with_cache(1)._cache_size == 1
    uncached = distributions.ExpTransform()
    assert uncached.inv(uncached(x)) is not x


REGISTRY_CONSTRAINTS = [
    ("real", lambda module: module.real),
    ("positive", lambda module: module.positive),
    ("nonnegative", lambda module: module.nonnegative),
    ("greater_than", lambda module: module.greater_than(1.5)),
    ("less_than", lambda module: module.less_than(-2.0)),
    ("unit_interval", lambda module: module.unit_interval),
    ("interval", lambda module: module.interval(-1.0, 3.0)),
    ("half_open_interval", lambda module: module.half_open_interval(0.0, 2.0)),
    ("simplex", lambda module: module.simplex),
    ("independent", lambda module: module.independent(module.positive, 1)),
    ("real_vector", lambda module: module.real_vector),
    ("corr_cholesky", lambda module: module.corr_cholesky),
    ("cat", lambda module: module.cat([module.positive, module.interval(0.0, 2.0)], dim=-1,
                                      lengths=[2, 1])),
    ("stack", lambda module: module.stack([module.positive, module.real, module.unit_interval],
                                          dim=-1)),
]


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name, build", REGISTRY_CONSTRAINTS,
                         ids=[row[0] for row in REGISTRY_CONSTRAINTS])
def test_constraint_registries_match_torch(torch, registry, name, build):
    ours = getattr(distributions, registry)(build(distributions.constraints))
    theirs = getattr(torch.distributions, registry)(build(torch.distributions.constraints))
    assert type(ours).__name__ == type(theirs).__name__
    if not isinstance(ours, (distributions.CatTransform, distributions.StackTransform)):
        assert repr(ours) == repr(theirs)
    values = REAL[:, :3] if name != "corr_cholesky" else REAL
    y = ours(ember.tensor(values))
    assert_close(y, theirs(torch.tensor(values)), rtol=1e-12, atol=1e-12)
    assert bool(build(distributions.constraints).check(y).all())
    assert_close(ours.inv(y), theirs.inv(theirs(torch.tensor(values))), rtol=1e-8, atol=1e-8)


def test_transform_to_matrices_and_unknown_constraints(torch):
    transform = distributions.transform_to(distributions.constraints.positive_definite)
    assert isinstance(transform, distributions.PositiveDefiniteTransform)
    assert isinstance(distributions.transform_to(distributions.constraints.lower_cholesky),
                      distributions.LowerCholeskyTransform)
    with pytest.raises(NotImplementedError, match="Cannot transform _Boolean constraints"):
        distributions.biject_to(distributions.constraints.boolean)
    with pytest.raises(TypeError, match="Expected constraint to be either a Constraint"):
        distributions.biject_to.register(int, lambda constraint: None)


def test_cumulative_distribution_transform_matches_torch(torch):
    values = np.array([-1.0, 0.3, 2.0])
    ours = distributions.CumulativeDistributionTransform(
        distributions.Normal(ember.tensor(0.5), ember.tensor(2.0)))
    theirs = torch.distributions.CumulativeDistributionTransform(
        torch.distributions.Normal(torch.tensor(0.5), torch.tensor(2.0)))
    our_y = ours(ember.tensor(values))
    their_y = theirs(torch.tensor(values))
    assert_close(our_y, their_y)
    assert_close(ours.inv(our_y), theirs.inv(their_y), rtol=1e-6, atol=1e-6)
    assert_close(ours.log_abs_det_jacobian(ember.tensor(values), our_y),
                 theirs.log_abs_det_jacobian(torch.tensor(values), their_y))
    assert repr(ours.codomain) == repr(theirs.codomain)


def test_tril_vector_helpers_match_torch(torch):
    from ember.distributions.distribution import tril_matrix_to_vec, vec_to_tril_matrix
    from torch.distributions.utils import tril_matrix_to_vec as torch_to_vec
    from torch.distributions.utils import vec_to_tril_matrix as torch_to_matrix
    matrices = RANDOM.normal(size=(2, 4, 4))
    for diag in (0, -1, -2, 1):
        vector = tril_matrix_to_vec(ember.tensor(matrices), diag)
        assert_close(vector, torch_to_vec(torch.tensor(matrices), diag))
        assert_close(vec_to_tril_matrix(vector, diag),
                     torch_to_matrix(torch.tensor(vector.numpy()), diag))
    with pytest.raises(ValueError, match="cannot be expressed as the lower triangular part"):
        vec_to_tril_matrix(ember.tensor(np.zeros(5)))


def test_corr_cholesky_constraint_matches_torch(torch):
    factor = np.linalg.cholesky(np.array([[1.0, 0.3], [0.3, 1.0]]))
    not_unit = np.array([[1.0, 0.0], [0.5, 1.0]])
    for matrix in (factor, not_unit):
        assert bool(distributions.constraints.corr_cholesky.check(ember.tensor(matrix))) == \
            bool(torch.distributions.constraints.corr_cholesky.check(torch.tensor(matrix)))


def _exp(library):
    return library.distributions.transforms.ExpTransform()


MISUSED_TRANSFORMS = {
    "cat of a non-transform": lambda lib: lib.distributions.transforms.CatTransform([1]),
    "cat lengths": lambda lib: lib.distributions.transforms.CatTransform([_exp(lib)],
                                                                         lengths=[1, 2]),
    "cat dim out of range": lambda lib: lib.distributions.transforms.CatTransform(
        [_exp(lib)], dim=3)(lib.ones(2)),
    "cat wrong size": lambda lib: lib.distributions.transforms.CatTransform(
        [_exp(lib)], lengths=[1])(lib.ones(3)),
    "cat inverse wrong size": lambda lib: lib.distributions.transforms.CatTransform(
        [_exp(lib)], lengths=[1]).inv(lib.ones(3)),
    "cat jacobian dim": lambda lib: lib.distributions.transforms.CatTransform(
        [_exp(lib)], dim=2).log_abs_det_jacobian(lib.ones(3), lib.ones(3)),
    "stack of a non-transform": lambda lib: lib.distributions.transforms.StackTransform([1]),
    "stack dim out of range": lambda lib: lib.distributions.transforms.StackTransform(
        [_exp(lib)], dim=3)(lib.ones(2)),
    "stack wrong size": lambda lib: lib.distributions.transforms.StackTransform(
        [_exp(lib)])(lib.ones(3)),
    "stack inverse wrong size": lambda lib: lib.distributions.transforms.StackTransform(
        [_exp(lib)]).inv(lib.ones(3)),
    "stack jacobian wrong size": lambda lib: lib.distributions.transforms.StackTransform(
        [_exp(lib)]).log_abs_det_jacobian(lib.ones(3), lib.ones(3)),
    "independent of a non-constraint": lambda lib: lib.distributions.constraints.independent(
        1, 1),
    "independent float ndims": lambda lib: lib.distributions.constraints.independent(
        lib.distributions.constraints.real, 1.0),
    "independent negative ndims": lambda lib: lib.distributions.constraints.independent(
        lib.distributions.constraints.real, -1),
    "cat constraint lengths": lambda lib: lib.distributions.constraints.cat(
        [lib.distributions.constraints.real], lengths=[1, 2]),
    "cat constraint of a non-constraint": lambda lib: lib.distributions.constraints.cat([1]),
    "stack constraint dim": lambda lib: lib.distributions.constraints.stack(
        [lib.distributions.constraints.real], dim=2).check(lib.ones(3)),
    "affine forward_shape": lambda lib: lib.distributions.transforms.AffineTransform(
        lib.zeros(3), 2.0).forward_shape(lib.Size([2])),
    "power forward_shape": lambda lib: lib.distributions.transforms.PowerTransform(
        lib.ones(3)).forward_shape((2,)),
}


@pytest.mark.parametrize("case", sorted(MISUSED_TRANSFORMS))
def test_misused_transforms_and_constraints_fail_like_torch(torch, case):
    """PyTorch refuses these with AssertionError (Cat/StackTransform's sizes, constraints'
    arguments) and prints shapes as given; ember raises the same type and words."""
    make = MISUSED_TRANSFORMS[case]
    assert_raises_like_torch(lambda: make(torch), lambda: make(ember), Exception,
                             same_type=True)
