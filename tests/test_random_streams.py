"""The same seed draws PyTorch's numbers: ember's generator is PyTorch's CPU MT19937 with its
transformations (uniform, normal, integers, permutations, Bernoulli, exponential, multinomial),
so default initialisation, dropout masks, shuffling and sampling match torch after
``manual_seed``, compared bit for bit."""
import contextlib
import itertools
import subprocess
import sys

import numpy as np
import pytest

import ember


def _pair(torch, build, seed=0):
    ember.manual_seed(seed)
    torch.manual_seed(seed)
    return build(ember), build(torch)


def _flat_parameters(library, module):
    return library.cat([parameter.detach().reshape(-1) for parameter in module.parameters()])


EXACT = {
    "rand": lambda L: L.rand(3, 5),
    "rand float64": lambda L: L.rand(7, dtype=L.float64),
    "uniform_": lambda L: L.empty(999).uniform_(-0.3, 0.17),
    # float64 draws: x * (to - from) + from as one fused multiply-add, as PyTorch's build has it
    "uniform_ float64": lambda L: L.empty(2000, dtype=L.float64).uniform_(-0.378, 0.378),
    "linear float64": lambda L: _flat_parameters(L, L.nn.Linear(70, 30, dtype=L.float64)),
    "rand complex": lambda L: L.view_as_real(L.rand(4, dtype=L.cfloat)),
    "randn under 16": lambda L: L.randn(2, 3),
    "randn float64": lambda L: L.randn(100, dtype=L.float64),
    "randn float64 under 16": lambda L: L.randn(3, dtype=L.float64),
    # an RL policy's one-action draws: each under 16, float32 and float64, the pair's second
    # value kept for the next call
    "Categorical samples of 1-3 dims": lambda L: L.cat([
        L.distributions.Categorical(logits=L.linspace(-2, 2, 24).reshape(shape)).sample(
            sample_shape).reshape(-1) for shape in ((24,), (6, 4), (2, 3, 4))
        for sample_shape in ((), (5,), (2, 3))]),
    "Normal samples one at a time": lambda L: L.cat(
        [L.distributions.Normal(L.zeros(1, 1), L.ones(1, 1)).sample().reshape(-1).double()
         for _ in range(7)] + [L.randn(1, 1, dtype=L.float64).reshape(-1) for _ in range(5)]),
    "randint": lambda L: L.randint(-3, 17, (50,)),
    "randint wide": lambda L: L.randint(0, 2 ** 40, (5,)),
    "randperm": lambda L: L.randperm(1000),
    "random_ int64": lambda L: L.empty(4, dtype=L.int64).random_(),
    "random_ float32": lambda L: L.empty(4).random_(),
    "random_ bounds": lambda L: L.empty(6, dtype=L.int32).random_(3, 9),
    "bernoulli_ p": lambda L: L.empty(100).bernoulli_(0.3),
    "bernoulli float32": lambda L: L.bernoulli(L.full((50,), 0.4)),
    "bernoulli float64": lambda L: L.bernoulli(L.full((50,), 0.4, dtype=L.float64)),
    "exponential_": lambda L: L.empty(10).exponential_(2.5),
    "geometric_": lambda L: L.empty(10).geometric_(0.3),
    "cauchy_": lambda L: L.empty(10, dtype=L.float64).cauchy_(),
    "log_normal_": lambda L: L.empty(5, dtype=L.float64).log_normal_(),
    "multinomial": lambda L: L.multinomial(L.rand(3, 10), 4),
    "multinomial one": lambda L: L.multinomial(L.rand(5, 65), 1),
    "multinomial with replacement": lambda L: L.multinomial(L.rand(3, 10), 6, True),
    "dropout": lambda L: L.nn.functional.dropout(L.ones(100), 0.3),
    "dropout2d": lambda L: L.nn.functional.dropout2d(L.ones(4, 6, 2, 2), 0.5),
    "linear": lambda L: _flat_parameters(L, L.nn.Linear(20, 30)),
    "conv2d": lambda L: _flat_parameters(L, L.nn.Conv2d(3, 8, 3)),
    "conv_transpose2d": lambda L: _flat_parameters(L, L.nn.ConvTranspose2d(3, 8, 3)),
    "lstm": lambda L: _flat_parameters(L, L.nn.LSTM(8, 16, 2)),
    "gru": lambda L: _flat_parameters(L, L.nn.GRU(8, 16)),
    "multihead attention": lambda L: _flat_parameters(L, L.nn.MultiheadAttention(16, 4)),
    "transformer layer": lambda L: _flat_parameters(L, L.nn.TransformerEncoderLayer(16, 4, 32)),
    "xavier_uniform_": lambda L: L.nn.init.xavier_uniform_(L.empty(10, 20)),
    "rrelu": lambda L: L.nn.functional.rrelu(L.linspace(-1, 1, 9), training=True),
    "randn": lambda L: L.randn(64, 33),
    "randn odd sizes": lambda L: L.cat([L.randn(n) for n in (16, 17, 31, 100003)]),
    "normal_": lambda L: L.empty(1001).normal_(0.5, 0.02),
    "randn complex": lambda L: L.view_as_real(L.randn(40, dtype=L.cfloat)),
    "normal of tensors": lambda L: L.normal(L.zeros(20), L.ones(20) * 2),
    "normal of a number mean and tensor std": lambda L: L.normal(1.5, L.linspace(0.1, 1, 20)),
    "normal of a tensor mean and number std": lambda L: L.normal(L.arange(20.0), 0.5),
    "embedding": lambda L: _flat_parameters(L, L.nn.Embedding(10, 16)),
    "kaiming_normal_": lambda L: L.nn.init.kaiming_normal_(L.empty(10, 20)),
    "trunc_normal_": lambda L: L.nn.init.trunc_normal_(L.empty(10, 20), std=0.02),
    "trunc_normal_ narrow": lambda L: L.nn.init.trunc_normal_(L.empty(10, 20), a=-0.1, b=0.2),
    "normal_ transposed": lambda L: L.empty(8, 6).t().normal_(),
    "normal_ strided": lambda L: L.zeros(40, 6)[:, ::2].normal_(),
    "uniform_ permuted": lambda L: L.zeros(2, 3, 4).permute(2, 0, 1).uniform_(),
    "rand float16": lambda L: L.rand(50, dtype=L.float16).float(),
    "rand bfloat16": lambda L: L.rand(50, dtype=L.bfloat16).float(),
    "uniform_ float16": lambda L: L.empty(500, dtype=L.float16).uniform_(-0.3, 0.7).float(),
    "poisson": lambda L: L.poisson(L.tensor([0.5, 3.0, 9.9, 10.0, 25.0, 200.0] * 5)),
    "Gamma": lambda L: L.distributions.Gamma(L.tensor([0.5, 1.0, 3.0]),
                                             L.tensor([1.0, 2.0, 0.5])).sample((4,)),
    "Gamma float64": lambda L: L.distributions.Gamma(
        L.tensor([0.05, 2.5, 30.0], dtype=L.float64), L.tensor(1.0, dtype=L.float64)).sample((4,)),
    "Dirichlet": lambda L: L.distributions.Dirichlet(L.tensor([0.5, 2.0, 3.0])).sample((4,)),
    "StudentT": lambda L: L.distributions.StudentT(L.tensor([3.0, 10.0])).sample((4,)),
    "Poisson": lambda L: L.distributions.Poisson(L.tensor([0.5, 4.0, 30.0])).sample((4,)),
    "VonMises": lambda L: L.distributions.VonMises(L.tensor([0.0, 1.0]),
                                                   L.tensor([2.0, 0.3])).sample((3,)),
    "Normal rsample": lambda L: L.distributions.Normal(L.zeros(40), L.ones(40)).rsample(),
    "Categorical": lambda L: L.distributions.Categorical(
        probs=L.tensor([0.1, 0.2, 0.7])).sample((20,)),
    "binomial": lambda L: L.binomial(L.tensor([5.0, 10, 40, 100, 1000, 7, 30, 5.5] * 3),
                                     L.tensor([0.3, 0.6, 0.45, 0.05, 0.5, 0.9, 0.7, 0.5] * 3)),
    "Binomial": lambda L: L.distributions.Binomial(L.tensor([10.0, 50.0], dtype=L.float64),
                                                   L.tensor([0.3, 0.8], dtype=L.float64)
                                                   ).sample((5,)),
    "uniform_ float64 kaiming bound": lambda L: L.empty(5000, dtype=L.float64).uniform_(
        -0.3779644730092272, 0.3779644730092272),
    "linear float64 small": lambda L: _flat_parameters(L, L.nn.Linear(7, 3, dtype=L.float64)),
    "normal_ float64 scaled": lambda L: L.cat([L.empty(n, dtype=L.float64).normal_(-1.3, 3.7)
                                              for n in (10, 17, 5000)]),
    "normal_ under 16 scaled": lambda L: L.empty(10).normal_(-1.3, 3.7),
    "float64 exponential_, cauchy_, log_normal_, geometric_": lambda L: L.stack([
        L.empty(3000, dtype=L.float64).exponential_(2.7),
        L.empty(3000, dtype=L.float64).cauchy_(0.3, 1.7),
        L.empty(3000, dtype=L.float64).log_normal_(0.3, 0.7),
        L.empty(3000, dtype=L.float64).geometric_(0.23)]),
    "randn float16 and bfloat16": lambda L: L.cat([L.randn(n, dtype=dtype).float()
                                                   for n in (17, 50) for dtype in
                                                   (L.float16, L.bfloat16)]),
    "uniform_ bfloat16 at the bound": lambda L: L.empty(5000, dtype=L.bfloat16).uniform_(
        -0.3, 0.3).float(),
    "state after draws": lambda L: (L.rand(5), L.randn(3, dtype=L.float64),
                                    L.get_rng_state())[-1],
    # PyTorch fills empty_like(input), laid out as the input is, in memory order
    "rand_like transposed": lambda L: L.rand_like(L.zeros(6, 5).t()),
    "randn_like transposed": lambda L: L.randn_like(L.zeros(20, 5).t()),
    "randn_like channels_last": lambda L: L.randn_like(
        L.zeros(2, 3, 4, 5), memory_format=L.channels_last).contiguous(),
    "randint_like permuted": lambda L: L.randint_like(L.zeros(2, 3, 4).permute(2, 0, 1), 10),
    "rand_like expanded": lambda L: L.rand_like(L.zeros(4, 1, 3).expand(4, 5, 3).permute(2, 1, 0)),
    "dropout expanded": lambda L: L.nn.functional.dropout(
        L.ones(4, 1, 3).expand(4, 5, 3).permute(2, 1, 0), 0.5),
    "dropout transposed": lambda L: L.nn.functional.dropout(L.ones(6, 5).t(), 0.5),
    "dropout channels_last": lambda L: L.nn.functional.dropout(
        L.ones(2, 3, 2, 2).to(memory_format=L.channels_last), 0.5),
    "alpha_dropout permuted": lambda L: L.nn.functional.alpha_dropout(
        L.ones(2, 3, 4).permute(2, 0, 1), 0.5, True),
    # a range of 2**28 or more takes 64-bit draws, whatever the dtype (below: 32-bit ones)
    "randint ranges about 2**28": lambda L: L.cat([
        L.randint(low, low + span, (5,), dtype=dtype).double()
        for span in (2 ** 28 - 1, 2 ** 28, 10 ** 9, 2 ** 31, 2 ** 32 + 3)
        for low in (0, -7) for dtype in (L.int64, L.float64)]
        + [L.randint(0, 10 ** 9, (5,), dtype=L.int32).double(),
           L.empty(5, dtype=L.int32).random_(10 ** 9).double(),
           L.empty(5).random_(2 ** 28 - 1, 2 ** 28 + 1000).double()]),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_draws_equal_torch_bit_for_bit(torch, name):
    ours, theirs = _pair(torch, EXACT[name])
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


CLOSE = {
    # LAPACK's QR (OpenBLAS here, MKL in torch), the matrix products of attention and of
    # Wishart's Bartlett factor round differently; the draws themselves are equal.
    "orthogonal_": lambda L: L.nn.init.orthogonal_(L.empty(6, 4)),
    "Wishart": lambda L: L.distributions.Wishart(L.full((2,), 3.5), L.eye(3) * 2).sample((3,)),
    "attention dropout": lambda L: L.nn.functional.scaled_dot_product_attention(
        *(L.linspace(-1, 1, 120).reshape(2, 3, 5, 4).cos() * scale for scale in (1, 2, 3)),
        dropout_p=0.4, is_causal=True),
}


@pytest.mark.parametrize("name", sorted(CLOSE))
def test_normal_draws_equal_torch_to_float32_rounding(torch, name):
    ours, theirs = _pair(torch, CLOSE[name])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-6, atol=1e-7)


def test_batch_first_transformer_layer_drops_as_torch(torch):
    """With batch_first, attention's output is a transposed view, so the dropout after it draws
    its mask in that view's memory order (a wrong mask moves outputs by O(1))."""
    def output(L):
        layer = L.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, dropout=0.5)
        return layer(L.linspace(-1, 1, 240).reshape(3, 5, 16)).detach()

    ours, theirs = _pair(torch, output)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=2e-6)


def test_samplers_and_loaders_shuffle_as_torch(torch):
    def epochs(L):
        data = L.arange(20).float()
        loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(data), batch_size=6,
                                         shuffle=True)
        weighted = L.utils.data.WeightedRandomSampler([0.1, 2.0, 0.5, 1.0], 12)
        split = L.utils.data.random_split(range(10), [7, 3])
        subset = L.utils.data.SubsetRandomSampler([4, 8, 15, 16, 23, 42])
        return ([[batch[0].tolist() for batch in loader] for _ in range(2)], list(weighted),
                [list(part) for part in split], list(subset), L.rand(2).tolist())

    ours, theirs = _pair(torch, epochs, seed=3)
    assert ours == theirs


def test_generators_are_independent_and_restorable(torch):
    for library in (ember, torch):
        generator = library.Generator().manual_seed(5)
        first = library.rand(4, generator=generator)
        state = generator.get_state()
        second = library.rand(4, generator=generator)
        generator.set_state(state)
        assert library.equal(library.rand(4, generator=generator), second)
        assert not library.equal(first, second)
    ours = ember.Generator().manual_seed(2 ** 32 + 7)
    theirs = torch.Generator().manual_seed(2 ** 32 + 7)
    assert ours.initial_seed() == theirs.initial_seed() == 2 ** 32 + 7
    np.testing.assert_array_equal(ember.rand(6, generator=ours).numpy(),
                                  torch.rand(6, generator=theirs).numpy())


def test_states_cross_between_the_libraries(torch):
    torch.manual_seed(9)
    torch.randn(3, dtype=torch.float64)  # leaves a cached normal in the state
    ember.set_rng_state(new_state=ember.tensor(torch.get_rng_state().numpy()))  # PyTorch's name
    np.testing.assert_array_equal(ember.randn(5, dtype=ember.float64).numpy(),
                                  torch.randn(5, dtype=torch.float64).numpy())
    np.testing.assert_array_equal(ember.get_rng_state().numpy(),
                                  torch.get_rng_state().numpy())


def test_bad_states_are_refused():
    with pytest.raises(TypeError, match="RNG state must be a torch.ByteTensor"):
        ember.set_rng_state(ember.zeros(5056))
    with pytest.raises(RuntimeError, match="CPUGeneratorImplState of size 5056 but found the "
                                           "input RNG state size to be 3"):
        ember.set_rng_state(ember.zeros(3, dtype=ember.uint8))
    before = ember.get_rng_state()
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        ember.set_rng_state(ember.zeros(5056, dtype=ember.uint8))
    assert ember.equal(ember.get_rng_state(), before)


def test_transformations_without_torch():
    """The formulas on the raw stream, checked against MT19937 itself (NumPy's RandomState
    with the same 32-bit seed gives the same words)."""
    words = np.random.RandomState(42).randint(0, 2 ** 32, size=8, dtype=np.uint32)
    words = words.astype(np.uint64)
    generator = ember.Generator().manual_seed(42)
    assert ember.rand(2, generator=generator).numpy().tolist() == \
        ((words[:2] & 0xFFFFFF).astype(np.float64) * 2.0 ** -24).tolist()
    high_low = (int(words[2]) << 32 | int(words[3])) & ((1 << 53) - 1)
    assert ember.rand(1, dtype=ember.float64, generator=generator).item() == high_low * 2.0 ** -53
    assert ember.randint(0, 10, (4,), generator=generator).tolist() == \
        [int(word) % 10 for word in words[4:8]]
    counts = np.bincount(ember.randperm(5, generator=generator).numpy(), minlength=5)
    assert counts.tolist() == [1] * 5
    normals = ember.randn(20000, generator=generator).numpy()
    assert normals.dtype == np.float32
    assert abs(normals.mean()) < 0.03 and abs(normals.std() - 1) < 0.03
    sampler = ember.utils.data.RandomSampler(range(4), generator=generator)
    assert sorted(itertools.islice(iter(sampler), 4)) == [0, 1, 2, 3]


def test_an_unmodified_seeded_training_script_follows_torch(torch):
    """Seeded data, default initialisation, shuffling and dropout: one script, both libraries,
    the same losses (to float32 rounding: the kernels' sums may round differently)."""
    def losses(L):
        L.manual_seed(42)
        inputs = L.randn(256, 20)
        targets = (inputs @ L.randn(20, 3)).argmax(1)
        loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(inputs, targets),
                                         batch_size=32, shuffle=True)
        model = L.nn.Sequential(L.nn.Linear(20, 64), L.nn.ReLU(), L.nn.Dropout(0.3),
                                L.nn.BatchNorm1d(64), L.nn.Linear(64, 3))
        optimizer = L.optim.Adam(model.parameters(), lr=1e-3)
        history = []
        for _ in range(2):
            for batch, target in loader:
                optimizer.zero_grad()
                loss = L.nn.functional.cross_entropy(model(batch), target)
                loss.backward()
                optimizer.step()
                history.append(loss.item())
        return history

    ours, theirs = losses(ember), losses(torch)
    assert len(ours) == 16
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_the_float64_multiply_add_rounds_once():
    """ember's float64 fused multiply-add against exact rational arithmetic, cancellations
    included (the plain expression, rounded twice, misses about one value in ten here)."""
    from fractions import Fraction
    from ember._random import _fused64
    rng = np.random.default_rng(0)
    a = rng.random(3000) * 2.0 ** rng.integers(-30, 30, 3000)
    b = rng.standard_normal(3000)
    for c in (rng.standard_normal(3000) * 2.0 ** rng.integers(-40, 40, 3000), -(a * b),
              np.nextafter(-(a * b), 0)):
        exact = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a, b, c)]
        assert _fused64(a, b, c).tolist() == exact
    assert np.isinf(_fused64(1e300, 1e300, 1.0))


def test_the_vector_log_and_sincos_are_accurate():
    """The float32 log, sin and cos of the normal kernel, against float64 NumPy: within a few
    float32 ulps over the ranges the kernel feeds them ((0, 1] and [0, 2 pi))."""
    from ember._random import _vector_log, _vector_sincos
    x = np.linspace(2.0 ** -24, 1.0, 200001, dtype=np.float32)
    exact = np.log(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(_vector_log(x) - exact) / np.maximum(ulp, 2.0 ** -149)) <= 2.0
    theta = np.linspace(0.0, 2 * np.pi, 200001, endpoint=False).astype(np.float32)
    sines, cosines = _vector_sincos(theta)
    assert sines.dtype == cosines.dtype == np.float32
    np.testing.assert_allclose(sines, np.sin(theta.astype(np.float64)), rtol=0, atol=2.5e-7)
    np.testing.assert_allclose(cosines, np.cos(theta.astype(np.float64)), rtol=0, atol=2.5e-7)


def test_loader_workers_draw_from_their_own_seeded_streams(torch):
    """Random augmentation inside ``__getitem__`` with two workers: each worker's stream is
    seeded with base_seed + id and batches go to the workers in turn, as in PyTorch."""
    def epochs(L):
        class Augmented(L.utils.data.Dataset):
            def __len__(self):
                return 12

            def __getitem__(self, index):
                flipped = -1.0 if L.rand(1).item() < 0.5 else 1.0
                return L.full((3,), float(index)) * flipped + L.randn(3), L.initial_seed()

        loader = L.utils.data.DataLoader(Augmented(), batch_size=3, shuffle=True,
                                         num_workers=2)
        return ([[(x.tolist(), seeds.tolist()) for x, seeds in loader] for _ in range(2)],
                L.rand(2).tolist())

    ours, theirs = _pair(torch, epochs, seed=5)
    assert ours == theirs


def test_randperm_without_compiled_kernels_is_the_same(torch):
    from ember import _jit
    with _jit.disabled():
        ours, theirs = _pair(torch, lambda L: L.randperm(5000), seed=4)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_generator_methods_match_torch(torch):
    for library in (ember, torch):
        generator = library.Generator().manual_seed(3)
        library.rand(2, generator=generator)
        clone = generator.clone_state()
        assert library.equal(library.rand(3, generator=clone), library.rand(3, generator=generator))
        assert str(generator.device) == "cpu"
        with pytest.raises(RuntimeError, match="CPU Generator does not use offset"):
            generator.get_offset()


@pytest.mark.parametrize("count, mean, std", [(16, 0.0, 1.0), (4099, 0.5, 0.02),
                                              (100003, -1.3, 3.7)])
def test_float32_normals_compiled_and_numpy_paths_are_equal(count, mean, std):
    """The compiled float32 Box-Muller kernel repeats the NumPy path's roundings: the same
    seed gives the same values, bit for bit (the NumPy path is what runs without numba)."""
    from ember import _jit
    draws = []
    for disabled in (False, True):
        ember.manual_seed(11)
        with (_jit.disabled() if disabled else contextlib.nullcontext()):
            draws.append(ember.empty(count).normal_(mean, std).numpy())
    np.testing.assert_array_equal(draws[0], draws[1])
    assert np.isfinite(draws[0]).all() and abs(draws[0].mean() - mean) < 5 * std / count ** 0.5


LARGE = {
    "dropout": lambda L: L.nn.functional.dropout(L.ones(300, 347), 0.1),
    "bernoulli_ p": lambda L: L.empty(70001).bernoulli_(0.37),
    "rand": lambda L: L.rand(100003),
    "rand float64": lambda L: L.rand(40000, dtype=L.float64),
}


@pytest.mark.parametrize("name", sorted(LARGE))
def test_large_draws_equal_torch_and_leave_its_state(torch, name):
    """Draws of 2^16 words and more run the compiled MT19937 (and dropout's mask its one-pass
    comparison): the same numbers as PyTorch, and the generator ends where PyTorch's does."""
    def build(library):
        library.rand(5)  # start mid-way through the 624 state words
        return LARGE[name](library), library.rand(7)
    ours, theirs = _pair(torch, build, seed=9)
    for mine, reference in zip(ours, theirs):
        np.testing.assert_array_equal(mine.numpy(), reference.numpy())


@pytest.mark.parametrize("count", [1 << 16, 624 * 200 - 5, 300001])
def test_compiled_mt19937_and_bernoulli_equal_the_numpy_paths(count):
    """The compiled generator and mask comparison give NumPy's random_raw words and the NumPy
    comparison's mask, bit for bit, from any position in the state, and the same state after."""
    from ember import _jit, _random
    results = []
    for disabled in (False, True):
        generator = ember.Generator().manual_seed(2)
        with (_jit.disabled() if disabled else contextlib.nullcontext()):
            _random.random32(generator, 13)
            words = _random.random32(generator, count)
            mask = _random.bernoulli(generator, 0.7, (count // 2,))
            results.append((words, mask, _random.random32(generator, 3)))
    for compiled, numpy_path in zip(*results):
        np.testing.assert_array_equal(compiled, numpy_path)
    assert results[0][1].dtype == np.bool_ and results[0][1].shape == (count // 2,)


def _startup_seeds(module):
    """initial_seed() and a first draw in two fresh interpreters, plus a new Generator's seed."""
    code = (f"import {module} as L; print(L.initial_seed(), L.rand(1).item(), "
            f"L.Generator().initial_seed())")
    return [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]


def test_the_default_generator_starts_from_entropy_as_pytorchs():
    """PyTorch seeds its default generator from OS entropy at startup: unseeded programs draw
    differently each run, while a new Generator() starts from the fixed default seed."""
    first, second = _startup_seeds("ember")
    assert first[0] != second[0] and first[1] != second[1]
    assert first[2] == second[2] == "67280421310721"
    pytest.importorskip("torch")
    theirs = _startup_seeds("torch")
    assert theirs[0][0] != theirs[1][0] and theirs[0][2] == first[2]
