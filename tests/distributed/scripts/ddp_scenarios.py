"""Every multi-rank scenario of tests/distributed/test_ddp_mpi.py in one MPI launch.

Run as ``mpiexec -n N python -m mpi4py ddp_scenarios.py RESULT.json``. Each rank also computes the
single-process reference (training on the whole global batch) itself; the largest error over the
ranks is written by rank 0 as JSON, and the test process asserts on it.
"""
import json
import sys

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.distributed import DistributedDataParallel, ReduceOp

GLOBAL_BATCH = 12  # divisible by 2 and 3 ranks
STEPS = 4


def relative_error(reference, actual):
    """Largest |difference| over the largest |reference| value, over matching tensors."""
    worst = 0.0
    for name, expected in reference.items():
        expected = expected.numpy().astype(np.float64)
        got = actual[name].numpy().astype(np.float64)
        scale = max(np.abs(expected).max(initial=0.0), 1e-12)
        worst = max(worst, float(np.abs(got - expected).max(initial=0.0)) / scale)
    return worst


def unwrap(state):
    return {name[len("module."):]: value for name, value in state.items()}


def batch(step, spatial=None, outputs=4):
    """Step ``step``'s global batch: 6 features, or 2 channels of ``spatial`` size."""
    rng = np.random.default_rng(100 + step)
    shape = (GLOBAL_BATCH, 6) if spatial is None else (GLOBAL_BATCH, 2) + spatial
    inputs = rng.normal(1.0, 2.0, size=shape).astype(np.float32)
    targets = rng.integers(0, outputs, size=GLOBAL_BATCH)
    return ember.tensor(inputs), ember.tensor(targets)


def shard(tensor, rank, world_size):
    size = tensor.shape[0] // world_size
    return tensor[rank * size:(rank + 1) * size]


def mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))


# No bias before a BatchNorm: its gradient is rounding noise, which Adam would amplify into steps.
def mlp_bn():
    return nn.Sequential(nn.Linear(6, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))


def cnn_bn():
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 4))


def optimizer_for(name, params):
    if name == "sgd":
        return ember.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-3)
    return ember.optim.Adam(params, lr=1e-2)


def train(model, optimizer, rank, world_size, spatial=None, steps=STEPS):
    for step in range(steps):
        inputs, targets = batch(step, spatial=spatial)
        if world_size > 0:
            inputs = shard(inputs, rank, world_size)
            targets = shard(targets, rank, world_size)
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        optimizer.step()


def reference_state(build, optimizer_name, spatial=None):
    ember.manual_seed(0)
    model = build()
    train(model, optimizer_for(optimizer_name, model.parameters()), 0, 0, spatial)
    return model.state_dict()


def distributed_state(build, optimizer_name, rank, world_size, spatial=None, sync_bn=False,
                      **options):
    ember.manual_seed(rank)  # ranks start apart: construction must broadcast rank 0's state
    model = build()
    if rank == 0:
        ember.manual_seed(0)
        model.load_state_dict(build().state_dict())
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DistributedDataParallel(model, **options)
    train(ddp, optimizer_for(optimizer_name, ddp.parameters()), rank, world_size, spatial)
    return ddp


def scenario_collectives(rank, world_size):
    failures = []

    def check(name, condition):
        if not condition:
            failures.append(name)

    values = ember.full((3,), float(rank + 1))
    dist.all_reduce(values)
    check("sum", np.all(values.numpy() == world_size * (world_size + 1) / 2))
    values = ember.full((2, 3), float(rank + 1))
    dist.all_reduce(values, op=ReduceOp.AVG)
    check("avg", np.allclose(values.numpy(), (world_size + 1) / 2) and
          values.dtype == ember.float32)
    for op, expected in ((ReduceOp.MAX, world_size), (ReduceOp.MIN, 1),
                         (ReduceOp.PRODUCT, float(np.prod(np.arange(1, world_size + 1))))):
        values = ember.tensor([rank + 1, rank + 1])
        dist.all_reduce(values, op=op)
        check(op.name, np.all(values.numpy() == expected) and values.dtype == ember.int64)
    matrix = ember.arange(6.0).reshape(2, 3) * (rank + 1)
    view = matrix.t()
    dist.all_reduce(view)
    total = world_size * (world_size + 1) / 2
    check("non-contiguous", np.allclose(matrix.numpy(), np.arange(6.0).reshape(2, 3) * total))
    work = dist.all_reduce(ember.ones(4), async_op=True)
    work.wait()
    check("async", work.is_completed())
    values = ember.full((4,), float(rank))
    dist.broadcast(values, src=world_size - 1)
    check("broadcast", np.all(values.numpy() == world_size - 1))
    outputs = [ember.zeros(2) for _ in range(world_size)]
    dist.all_gather(outputs, ember.tensor([rank, 10.0 * rank]))
    check("all_gather", all(np.allclose(output.numpy(), [index, 10.0 * index])
                            for index, output in enumerate(outputs)))
    metrics = dist.all_reduce_metrics({"count": rank + 1, "loss_sum": 0.5})
    check("metrics", metrics == {"count": total, "loss_sum": 0.5 * world_size})
    dist.barrier()
    return {"failures": failures}


def scenario_sampler(rank, world_size):
    """Shards from the process group cover the dataset, are disjoint with drop_last, and share
    one permutation per epoch."""
    length = 2 * world_size + 1
    results = {}
    for drop_last in (False, True):
        sampler = dist.DistributedSampler(range(length), seed=5, drop_last=drop_last)
        per_epoch = []
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            mine = ember.tensor(list(sampler))
            gathered = [ember.zeros(len(sampler), dtype=ember.int64) for _ in range(world_size)]
            dist.all_gather(gathered, mine)
            flat = [int(index) for tensor in gathered for index in tensor.numpy()]
            per_epoch.append(flat)
        key = "drop_last" if drop_last else "padded"
        results[key] = {"covers": sorted(set(per_epoch[0])) == list(range(length)),
                        "disjoint": len(per_epoch[0]) == len(set(per_epoch[0])),
                        "sizes_equal": len(per_epoch[0]) == world_size * len(sampler),
                        "epochs_differ": per_epoch[0] != per_epoch[1],
                        "drop_last_count": len(set(per_epoch[0]))}
    return results


def scenario_training(rank, world_size):
    results = {}
    for optimizer_name in ("sgd", "adam"):
        reference = reference_state(mlp, optimizer_name)
        for label, options in (("buckets", {"bucket_cap_mb": 0.0002}),
                               ("one_bucket", {}),
                               ("no_overlap", {"bucket_cap_mb": 0.0002})):
            if label == "no_overlap":
                ember.manual_seed(0)
                model = mlp()
                ddp = DistributedDataParallel(model, **options)
                ddp._overlap = False
                train(ddp, optimizer_for(optimizer_name, ddp.parameters()), rank, world_size)
            else:
                ddp = distributed_state(mlp, optimizer_name, rank, world_size, **options)
            ddp_state = unwrap(ddp.state_dict())
            results[f"{optimizer_name}_{label}"] = relative_error(reference, ddp_state)
            results[f"{optimizer_name}_{label}_buckets"] = len(ddp._buckets)
    return results


def scenario_sync_batchnorm(rank, world_size):
    results = {}
    for build, spatial, name in ((mlp_bn, None, "mlp"), (cnn_bn, (4, 4), "cnn")):
        for optimizer_name in ("sgd", "adam"):
            reference = reference_state(build, optimizer_name, spatial)
            ddp = distributed_state(build, optimizer_name, rank, world_size, spatial,
                                    sync_bn=True, bucket_cap_mb=0.0002)
            state = unwrap(ddp.state_dict())
            results[f"{name}_{optimizer_name}"] = relative_error(reference, state)
            buffers = {key: value for key, value in reference.items() if "running" in key}
            results[f"{name}_{optimizer_name}_running_stats"] = relative_error(buffers, state)
    return results


def scenario_local_batchnorm(rank, world_size):
    """Plain BatchNorm under DDP normalises with each rank's own statistics: the running
    statistics are those of the local shard, not of the global batch."""
    ember.manual_seed(0)
    global_model = mlp_bn()
    ember.manual_seed(0)
    local_model = mlp_bn()
    ember.manual_seed(0)
    ddp = DistributedDataParallel(mlp_bn(), broadcast_buffers=False)
    inputs, targets = batch(0)
    global_model(inputs)
    local_model(shard(inputs, rank, world_size))
    ddp(shard(inputs, rank, world_size))
    key = "1.running_mean"
    state = unwrap(ddp.state_dict())
    reference_global = {key: global_model.state_dict()[key]}
    reference_local = {key: local_model.state_dict()[key]}
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(ddp.module)
    ember.manual_seed(0)
    synced = DistributedDataParallel(nn.SyncBatchNorm.convert_sync_batchnorm(mlp_bn()))
    synced(shard(inputs, rank, world_size))
    return {"versus_global": relative_error(reference_global, state),
            "versus_local": relative_error(reference_local, state),
            "synced_versus_global": relative_error(reference_global,
                                                   unwrap(synced.state_dict())),
            "converted_shares_buffers": converted[1].running_mean is ddp.module[1].running_mean}


def scenario_no_sync(rank, world_size):
    """Two micro-batches, the first under no_sync, then one step: equals one single-process step
    on both global micro-batches (each loss halved)."""
    ember.manual_seed(0)
    reference = mlp()
    optimizer = optimizer_for("sgd", reference.parameters())
    micro = [batch(step) for step in (0, 1)]
    for inputs, targets in micro:
        (F.cross_entropy(reference(inputs), targets) / 2).backward()
    optimizer.step()
    ember.manual_seed(0)
    ddp = DistributedDataParallel(mlp())
    optimizer = optimizer_for("sgd", ddp.parameters())
    (inputs, targets), (last_inputs, last_targets) = micro
    with ddp.no_sync():
        loss = F.cross_entropy(ddp(shard(inputs, rank, world_size)),
                               shard(targets, rank, world_size))
        (loss / 2).backward()
    local_grad = ddp.module[0].weight.grad.numpy().copy()
    loss = F.cross_entropy(ddp(shard(last_inputs, rank, world_size)),
                           shard(last_targets, rank, world_size))
    (loss / 2).backward()
    optimizer.step()
    gathered = [ember.zeros(*local_grad.shape) for _ in range(world_size)]
    dist.all_gather(gathered, ember.tensor(local_grad))
    return {"error": relative_error(reference.state_dict(), unwrap(ddp.state_dict())),
            "local_grads_differ": not all(np.allclose(tensor.numpy(), gathered[0].numpy())
                                          for tensor in gathered[1:])}


class _TwoHeads(nn.Module):
    """A tied layer used twice, and a head that forward never uses."""

    def __init__(self):
        super().__init__()
        self.tied = nn.Linear(6, 6)
        self.unused = nn.Linear(6, 6)
        self.frozen = nn.Linear(6, 4)
        self.frozen.weight.requires_grad_(False)

    def forward(self, inputs):
        return self.frozen(self.tied(F.relu(self.tied(inputs))))


def scenario_graph_shapes(rank, world_size):
    results = {}
    ember.manual_seed(0)
    reference = _TwoHeads()
    optimizer = optimizer_for("sgd", reference.parameters())
    train(reference, optimizer, 0, 0)
    for find_unused in (False, True):
        ember.manual_seed(0)
        ddp = DistributedDataParallel(_TwoHeads(), find_unused_parameters=find_unused,
                                      bucket_cap_mb=0.0002)
        optimizer = optimizer_for("sgd", ddp.parameters())
        train(ddp, optimizer, rank, world_size)
        state = unwrap(ddp.state_dict())
        used = {key: value for key, value in reference.state_dict().items()
                if not key.startswith("unused.")}
        results[f"error_used_find_unused_{find_unused}"] = relative_error(used, state)
        results[f"error_all_find_unused_{find_unused}"] = relative_error(
            reference.state_dict(), state)
        grad = ddp.module.unused.weight.grad
        results[f"unused_grad_find_unused_{find_unused}"] = (
            None if grad is None else float(np.abs(grad.numpy()).max()))
    return results


def scenario_evaluation(rank, world_size):
    """Per-rank totals over an unpadded shard, summed, give the single-process metrics."""
    ember.manual_seed(0)
    model = mlp()
    length = 3 * world_size + 1
    rng = np.random.default_rng(7)
    inputs = ember.tensor(rng.normal(size=(length, 6)).astype(np.float32))
    targets = ember.tensor(rng.integers(0, 4, size=length))
    with ember.no_grad():
        logits = model(inputs)
        full = {"correct": float((logits.argmax(1) == targets).sum().item()),
                "loss_sum": float(F.cross_entropy(logits, targets, reduction="sum").item()),
                "count": float(length)}
        indices = list(dist.UnpaddedDistributedSampler(range(length)))
        mine = ember.tensor(indices, dtype=ember.int64)
        local_logits = model(inputs[mine])
        local = {"correct": (local_logits.argmax(1) == targets[mine]).sum().item(),
                 "loss_sum": F.cross_entropy(local_logits, targets[mine],
                                             reduction="sum").item(),
                 "count": len(indices)}
    combined = dist.all_reduce_metrics(local)
    return {"count_equal": combined["count"] == full["count"],
            "correct_equal": combined["correct"] == full["correct"],
            "loss_error": abs(combined["loss_sum"] - full["loss_sum"]) / full["loss_sum"]}


SCENARIOS = {"collectives": scenario_collectives, "sampler": scenario_sampler,
             "training": scenario_training, "sync_batchnorm": scenario_sync_batchnorm,
             "local_batchnorm": scenario_local_batchnorm, "no_sync": scenario_no_sync,
             "graph_shapes": scenario_graph_shapes, "evaluation": scenario_evaluation}


def combine(values):
    """Worst value over the ranks: max of floats, all() of booleans, union of failure lists."""
    gathered = [None] * dist.get_world_size()
    encoded = json.dumps(values).encode()
    sizes = [ember.zeros(1, dtype=ember.int64) for _ in gathered]
    dist.all_gather(sizes, ember.tensor([len(encoded)]))
    width = int(max(size.item() for size in sizes))
    padded = np.zeros(width, dtype=np.uint8)
    padded[:len(encoded)] = np.frombuffer(encoded, dtype=np.uint8)
    buffers = [ember.zeros(width, dtype=ember.uint8) for _ in gathered]
    dist.all_gather(buffers, ember.from_numpy(padded))
    for index, (buffer, size) in enumerate(zip(buffers, sizes)):
        gathered[index] = json.loads(bytes(buffer.numpy()[:int(size.item())]).decode())
    return _worst(gathered)


def _worst(items):
    first = items[0]
    if isinstance(first, dict):
        return {key: _worst([item[key] for item in items]) for key in first}
    if isinstance(first, bool):
        return all(items)
    if isinstance(first, list):
        return sorted({entry for item in items for entry in item})
    if isinstance(first, (int, float)):
        return max(items)
    return first


def main():
    output_path = sys.argv[1]
    dist.init_process_group("mpi")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    results = {"world_size": world_size}
    for name, scenario in SCENARIOS.items():
        results[name] = combine(scenario(rank, world_size))
    if rank == 0:
        with open(output_path, "w") as handle:
            json.dump(results, handle, indent=1)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
