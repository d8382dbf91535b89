"""MPI faults a script can survive, in one launch: uneven inputs under join(), a rank that skips a
batch, models that differ between ranks, collectives whose sizes, dtypes or roots differ.

Run as ``mpiexec -n 2 python recoverable_faults.py OUT_DIR``; each rank writes
``OUT_DIR/rank{r}.json`` with what it saw (error types and messages, errors against a reference
computed in-process), and tests/reliability/test_mpi_faults.py asserts on them. Every scenario
ends with a barrier: the process group must still work after each caught error.
"""
import datetime
import json
import os
import sys

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.distributed import DistributedDataParallel
from ember.distributed.algorithms.join import Join

LEARNING_RATE = 0.1


def batch(rank, step):
    rng = np.random.default_rng(1000 * rank + step)
    inputs = rng.normal(size=(4, 3)).astype(np.float32)
    targets = rng.integers(0, 2, size=4)
    return ember.tensor(inputs), ember.tensor(targets)


def mlp():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))


def reference_parameters(batches_per_rank, divide_by_initial_world_size):
    """Single-process replay of join(): at each step the ranks that still have a batch add their
    gradients, divided by the world size (or by how many ranks are still training)."""
    model = mlp()
    world_size = len(batches_per_rank)
    for step in range(max(batches_per_rank)):
        active = [rank for rank, count in enumerate(batches_per_rank) if step < count]
        total = [np.zeros_like(param.detach().numpy()) for param in model.parameters()]
        for rank in active:
            model.zero_grad()
            inputs, targets = batch(rank, step)
            F.cross_entropy(model(inputs), targets).backward()
            for accumulated, param in zip(total, model.parameters()):
                accumulated += param.grad.numpy()
        divisor = world_size if divide_by_initial_world_size else len(active)
        with ember.no_grad():
            for accumulated, param in zip(total, model.parameters()):
                param -= LEARNING_RATE * ember.tensor(accumulated / divisor)
    return [param.detach().numpy() for param in model.parameters()]


def relative_error(expected, actual):
    worst = 0.0
    for reference, got in zip(expected, actual):
        scale = max(np.abs(reference).max(), 1e-12)
        worst = max(worst, float(np.abs(got - reference).max() / scale))
    return worst


def train(ddp, steps, rank, skip=None):
    optimizer = ember.optim.SGD(ddp.parameters(), lr=LEARNING_RATE)
    for step in range(steps):
        if step == skip:
            continue  # e.g. a corrupt sample caught and skipped on this rank only
        optimizer.zero_grad()
        inputs, targets = batch(rank, step)
        F.cross_entropy(ddp(inputs), targets).backward()
        optimizer.step()


def same_on_every_rank(arrays):
    """True when every rank holds the same values (an all-gather of the flat state)."""
    flat = ember.tensor(np.concatenate([array.ravel() for array in arrays]).astype(np.float32))
    gathered = [ember.zeros(flat.shape[0]) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, flat)
    return all(np.array_equal(gathered[0].numpy(), other.numpy()) for other in gathered)


def error_of(call):
    """``[type name, message]`` of what ``call`` raises, or None."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 (the scenario records whatever was raised)
        return [type(error).__name__, str(error)]
    return None


def scenario_join(rank, world_size):
    batches_per_rank = [2 + 2 * index for index in range(world_size)]  # 2, 4, ...
    results = {}
    for divide in (True, False):
        ddp = DistributedDataParallel(mlp())
        with ddp.join(divide_by_initial_world_size=divide):
            train(ddp, batches_per_rank[rank], rank)
        parameters = [param.detach().numpy() for param in ddp.module.parameters()]
        expected = reference_parameters(batches_per_rank, divide)
        results[f"divide_{divide}_error"] = relative_error(expected, parameters)
        results[f"divide_{divide}_equal"] = same_on_every_rank(parameters)
    dist.barrier()
    return results


def scenario_join_generic_and_buffers(rank, world_size):
    """Join([ddp]) from ember.distributed.algorithms, on a model with BatchNorm buffers that are
    broadcast before every forward: the ranks end with the same parameters and buffers."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    ddp = DistributedDataParallel(model)
    with Join([ddp]):
        train(ddp, 1 + 3 * rank, rank)
    state = [value.detach().numpy() for value in model.state_dict().values()]
    results = {"equal": same_on_every_rank(state),
               "batches_tracked": int(model[1].num_batches_tracked.item())}
    even = DistributedDataParallel(mlp())
    with even.join(enable=False):
        train(even, 2, rank)
    results["disabled_equal"] = same_on_every_rank([p.detach().numpy() for p in even.parameters()])
    dist.barrier()
    return results


def scenario_join_throw(rank, world_size):
    ddp = DistributedDataParallel(mlp())
    steps_done = [0]

    def run():
        with ddp.join(throw_on_early_termination=True):
            optimizer = ember.optim.SGD(ddp.parameters(), lr=LEARNING_RATE)
            for step in range(2 + 2 * rank):
                optimizer.zero_grad()
                inputs, targets = batch(rank, step)
                F.cross_entropy(ddp(inputs), targets).backward()
                optimizer.step()
                steps_done[0] += 1

    error = error_of(run)
    dist.barrier()
    return {"error": error, "steps_done": steps_done[0]}


def scenario_skip_with_join(rank, world_size):
    ddp = DistributedDataParallel(mlp())
    with ddp.join():
        train(ddp, 4, rank, skip=1 if rank == 1 else None)
    equal = same_on_every_rank([param.detach().numpy() for param in ddp.parameters()])
    dist.barrier()
    return {"equal": equal}


class TwoLayers(nn.Module):
    """Two same-shaped layers whose registration order depends on ``swap``."""

    def __init__(self, swap):
        super().__init__()
        if swap:
            self.second = nn.Linear(4, 4)
            self.first = nn.Linear(4, 4)
        else:
            self.first = nn.Linear(4, 4)
            self.second = nn.Linear(4, 4)

    def forward(self, inputs):
        return self.second(self.first(inputs))


def scenario_mismatched_models(rank, world_size):
    last = rank == world_size - 1
    results = {
        "order": error_of(lambda: DistributedDataParallel(TwoLayers(swap=last))),
        "shape": error_of(lambda: DistributedDataParallel(nn.Linear(4, 5 if last else 4))),
        "buffers": error_of(lambda: DistributedDataParallel(
            nn.BatchNorm1d(4, track_running_stats=not last))),
        "dtype": error_of(lambda: DistributedDataParallel(
            nn.Linear(2, 2, dtype=ember.float64 if last else ember.float32))),
        "same": error_of(lambda: DistributedDataParallel(TwoLayers(swap=False))),
    }
    dist.barrier()
    return results


def scenario_collective_mismatch(rank, world_size):
    last = rank == world_size - 1
    results = {
        "size": error_of(lambda: dist.all_reduce(ember.ones(12 if last else 10))),
        "dtype": error_of(lambda: dist.all_reduce(
            ember.ones(3, dtype=ember.float64 if last else ember.float32))),
        "broadcast_root": error_of(lambda: dist.broadcast(ember.ones(2), src=rank)),
        "all_gather_shape": error_of(lambda: dist.all_gather(
            [ember.zeros(2 + last) for _ in range(world_size)], ember.ones(2 + last))),
        "metrics_keys": error_of(lambda: dist.all_reduce_metrics(
            {"loss": 1.0, "count" if last else "correct": 2.0})),
        "kind": error_of(dist.barrier if last else lambda: dist.all_reduce(ember.ones(1))),
        "sync_batchnorm": error_of(lambda: nn.SyncBatchNorm(4 if last else 3)(
            ember.ones(2, 4 if last else 3))),
    }
    values = ember.full((2,), float(rank + 1))
    dist.all_reduce(values)  # still usable after every caught mismatch
    results["after"] = values.numpy().tolist()
    flags = ember.tensor([rank == 0, False])
    dist.all_reduce(flags)  # booleans: a logical or (MPI has no SUM for them)
    results["bool_or"] = flags.tolist()
    dist.barrier()
    return results


def scenario_skip_without_join(rank, world_size):
    """Without join(), the rank that skipped a batch reaches the evaluation's all-reduce while
    the others are still in their last backward: an error on every rank, not a hang."""
    ddp = DistributedDataParallel(mlp())

    def run():
        train(ddp, 3, rank, skip=1 if rank == world_size - 1 else None)
        dist.all_reduce_metrics({"correct": 1.0, "count": 4.0})

    return {"error": error_of(run)}


SCENARIOS = [scenario_join, scenario_join_generic_and_buffers, scenario_join_throw,
             scenario_skip_with_join, scenario_mismatched_models, scenario_collective_mismatch,
             scenario_skip_without_join]  # last: it leaves a wrapper mid-step


def main():
    out_dir = sys.argv[1]
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=10))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    report = {"world_size": world_size}
    for scenario in SCENARIOS:
        report[scenario.__name__[len("scenario_"):]] = scenario(rank, world_size)
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main()
