"""Ops on bfloat16 tensors (a model cast with .to(torch.bfloat16)) against PyTorch: results keep
the dtype, values agree to bfloat16 rounding, and PyTorch's refusals are kept. bfloat16's NumPy
kind is 'V', so a check written as ``dtype.kind == 'f'`` used to refuse it or skip its NaNs."""
import numpy as np
import pytest

import ember

VALUES = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6) * 1.37
WITH_NAN = np.array([np.nan, 1.0, -2.0, 3.0, np.inf, -np.inf], np.float32)

OPS = {
    "norm": lambda lib, a, p: a.norm(),
    "vector_norm dim": lambda lib, a, p: lib.linalg.vector_norm(a, 3, dim=1),
    "norm fro": lambda lib, a, p: lib.norm(a, p="fro"),
    "logsumexp": lambda lib, a, p: a.logsumexp(1),
    "logcumsumexp": lambda lib, a, p: a.logcumsumexp(1),
    "nansum": lambda lib, a, p: p[:4].nansum(),
    "nanmean": lambda lib, a, p: p[:4].nanmean(),
    "median with nan": lambda lib, a, p: p.median(),
    "nanmedian": lambda lib, a, p: p.nanmedian(),
    "isposinf": lambda lib, a, p: lib.isposinf(p),
    "isneginf": lambda lib, a, p: lib.isneginf(p),
    "signbit": lambda lib, a, p: lib.signbit(-a),
    "round decimals": lambda lib, a, p: lib.round(a, decimals=1),
    "frac": lambda lib, a, p: a.frac(),
    "nan_to_num": lambda lib, a, p: lib.nan_to_num(p, nan=0.5, posinf=2.0),
    "lerp": lambda lib, a, p: lib.lerp(a, a.flip(0), 0.3),
    "einsum": lambda lib, a, p: lib.einsum("ij,ij->i", a, a.flip(1)),
    "histc": lambda lib, a, p: lib.histc(a, 4),
    "cummax with nan": lambda lib, a, p: p.cummax(0).values,
    "cosine_similarity": lambda lib, a, p: lib.nn.functional.cosine_similarity(a, a.flip(0)),
    "pairwise_distance": lambda lib, a, p: lib.nn.functional.pairwise_distance(a, a.flip(0)),
    "normalize": lambda lib, a, p: lib.nn.functional.normalize(a, dim=1),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_bfloat16_ops_match_torch(torch, name):
    results = []
    for lib in (ember, torch):
        a = lib.tensor(VALUES).to(lib.bfloat16)
        p = lib.tensor(WITH_NAN).to(lib.bfloat16)
        results.append(OPS[name](lib, a, p))
    ours, theirs = results
    assert str(ours.dtype) == str(theirs.dtype).replace("torch", "ember")
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=1e-2,
                               atol=1e-2, equal_nan=True)


def test_bfloat16_norm_has_a_bfloat16_gradient(torch):
    grads = []
    for lib in (ember, torch):
        a = lib.tensor(VALUES).to(lib.bfloat16).requires_grad_()
        lib.linalg.vector_norm(a, dim=1).sum().backward()
        grads.append(a.grad)
    assert grads[0].dtype == ember.bfloat16
    np.testing.assert_allclose(grads[0].float().numpy(), grads[1].float().numpy(), rtol=1e-2,
                               atol=1e-2)


def test_cdist_refuses_bfloat16_as_torch(torch):
    with pytest.raises(NotImplementedError) as expected:
        torch.cdist(torch.ones(2, 3, dtype=torch.bfloat16), torch.ones(2, 3, dtype=torch.bfloat16))
    with pytest.raises(NotImplementedError) as raised:
        ember.cdist(ember.ones(2, 3, dtype=ember.bfloat16), ember.ones(2, 3, dtype=ember.bfloat16))
    assert str(raised.value) == str(expected.value)
