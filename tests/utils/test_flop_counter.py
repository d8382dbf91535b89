"""torch.utils.flop_counter.FlopCounterMode against PyTorch's CPU build: total and per-module
counts of matrix products, einsum and convolutions, forward and backward (only the gradients
that are needed), and the fast paths restored afterwards."""
import importlib

import numpy as np
import pytest

import ember
from ember import _grad_state
from ember.utils.flop_counter import FlopCounterMode


def _module(library):
    return importlib.import_module(f"{library.__name__}.utils.flop_counter")


def _tensors(library, *shapes, grad=True):
    generator = np.random.default_rng(0)
    return [library.tensor(generator.normal(size=shape).astype(np.float32),
                           requires_grad=grad) for shape in shapes]


CASES = {
    "linear": lambda lib, nn: nn.Linear(4, 3)(*_tensors(lib, (2, 4))).sum().backward(),
    "linear 3-d without bias": lambda lib, nn: nn.Linear(4, 3, bias=False)(
        *_tensors(lib, (5, 2, 4), grad=False)).sum().backward(),
    "matmul vector @ matrix": lambda lib, nn: lib.matmul(*_tensors(lib, (4,), (4, 5))).sum()
    .backward(),
    "matmul matrix @ vector": lambda lib, nn: lib.matmul(*_tensors(lib, (3, 4), (4,))).sum()
    .backward(),
    "matmul 3-d @ 2-d": lambda lib, nn: lib.matmul(*_tensors(lib, (2, 3, 4), (4, 5))).sum()
    .backward(),
    "matmul broadcast batches": lambda lib, nn: lib.matmul(
        *_tensors(lib, (2, 1, 3, 4), (3, 4, 5))).sum().backward(),
    "bmm": lambda lib, nn: lib.bmm(*_tensors(lib, (2, 3, 4), (2, 4, 5))).sum().backward(),
    "einsum attention": lambda lib, nn: lib.einsum(
        "bhqd,bhkd->bhqk", *_tensors(lib, (2, 2, 3, 4), (2, 2, 5, 4))).sum().backward(),
    "einsum chain": lambda lib, nn: lib.einsum(
        "ij,jk,kl->il", *_tensors(lib, (2, 3), (3, 4), (4, 5))).sum().backward(),
    "einsum without contraction": lambda lib, nn: lib.einsum(
        "bld,dn->bldn", *_tensors(lib, (2, 3, 4), (4, 5))).sum().backward(),
    "conv2d, input without grad": lambda lib, nn: nn.Conv2d(3, 8, 3, padding=1)(
        *_tensors(lib, (2, 3, 6, 6), grad=False)).sum().backward(),
    "grouped conv1d": lambda lib, nn: nn.Conv1d(4, 8, 3, groups=2)(
        *_tensors(lib, (1, 4, 6))).sum().backward(),
    "transposed conv2d": lambda lib, nn: nn.ConvTranspose2d(3, 2, 3, stride=2)(
        *_tensors(lib, (1, 3, 4, 4))).sum().backward(),
    "nested modules": lambda lib, nn: nn.Sequential(
        nn.Sequential(nn.Linear(4, 4), nn.ReLU()), nn.Linear(4, 2))(
        *_tensors(lib, (3, 4), grad=False)).sum().backward(),
    "no grad": lambda lib, nn: lib.no_grad()(lambda: nn.Linear(4, 4)(
        *_tensors(lib, (3, 4), grad=False)))(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_flop_counts_match_torch(torch, name):
    counts = []
    for library in (ember, torch):
        counter = _module(library).FlopCounterMode(display=False)
        with counter:
            CASES[name](library, library.nn)
        counts.append((counter.get_total_flops(),
                       {module: {str(op): flops for op, flops in ops.items()}
                        for module, ops in counter.get_flop_counts().items()}))
    assert counts[0] == counts[1]


def test_the_block_restores_the_fast_paths_and_apply():
    apply = ember.autograd.function.Op.__dict__["apply"]
    with FlopCounterMode(display=False) as counter:
        assert not _grad_state.fast_paths[0]
        ember.nn.Linear(2, 2)(ember.ones(1, 2))
    assert _grad_state.fast_paths[0]
    assert ember.autograd.function.Op.__dict__["apply"] is apply
    assert counter.get_total_flops() == 8
    ember.nn.Linear(2, 2)(ember.ones(1, 2))
    assert counter.get_total_flops() == 8


def test_display_needs_tabulate_as_in_torch(torch):
    errors = []
    for library in (ember, torch):
        try:
            with _module(library).FlopCounterMode():
                library.nn.Linear(2, 2)(library.ones(1, 2))
        except ImportError as error:
            errors.append((type(error), str(error)))
        else:
            errors.append(None)
    assert errors[0] == errors[1]
