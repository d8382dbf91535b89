"""Every rooted, scattering and point-to-point collective on N ranks, in one MPI launch.

Run as ``mpiexec -n N python -m mpi4py collectives.py RESULT.json``. Rank r's inputs are simple
functions of r, so tests/distributed/test_collectives.py can work out every rank's expected
outputs itself; rank 0 writes what each rank received as JSON.
"""
import json
import sys

import ember
import ember.distributed as dist
from ember.distributed import ReduceOp


def rank_values(rank, count=3):
    """Rank ``rank``'s input: [10 r + 0, 10 r + 1, ...] as float32."""
    return ember.arange(count, dtype=ember.float32) + 10.0 * rank


def main(path):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    seen = {}

    reduced = rank_values(rank)
    dist.reduce(reduced, dst=world - 1)
    seen["reduce"] = reduced.tolist()
    maximum = rank_values(rank)
    dist.reduce(maximum, dst=0, op=ReduceOp.MAX)
    seen["reduce_max"] = maximum.tolist()

    gathered = [ember.zeros(3) for _ in range(world)] if rank == 1 else None
    dist.gather(rank_values(rank), gathered, dst=1)
    seen["gather"] = None if gathered is None else [item.tolist() for item in gathered]

    received = ember.zeros(2)
    pieces = [ember.tensor([100.0 * target, 100.0 * target + 1]) for target in range(world)]
    dist.scatter(received, pieces if rank == 0 else None, src=0)
    seen["scatter"] = received.tolist()

    output = ember.zeros(2)
    dist.reduce_scatter(output, [ember.full((2,), float(rank + target)) for target in range(world)])
    seen["reduce_scatter"] = output.tolist()
    chunk = ember.zeros(2)
    dist.reduce_scatter_tensor(chunk, ember.arange(2 * world, dtype=ember.float32) * (rank + 1))
    seen["reduce_scatter_tensor"] = chunk.tolist()

    # rank r sends r + 1 copies of 10 r + target to each target
    outputs = [ember.zeros(source + 1) for source in range(world)]
    dist.all_to_all(outputs, [ember.full((rank + 1,), 10.0 * rank + target)
                              for target in range(world)])
    seen["all_to_all"] = [item.tolist() for item in outputs]
    # all_to_all_single with uneven splits: rank r sends target + 1 rows of 2 to each target
    sent = ember.cat([ember.full((target + 1, 2), 10.0 * rank + target) for target in range(world)])
    exchanged = ember.zeros(world * (rank + 1), 2)
    dist.all_to_all_single(exchanged, sent, [rank + 1] * world,
                           [target + 1 for target in range(world)])
    seen["all_to_all_single"] = exchanged.tolist()

    objects = [None] * world if rank == 0 else None
    dist.gather_object({"rank": rank, "name": f"r{rank}"}, objects, dst=0)
    seen["gather_object"] = objects
    mine = [None]
    dist.scatter_object_list(mine, [("item", target) for target in range(world)]
                             if rank == world - 1 else None, src=world - 1)
    seen["scatter_object_list"] = list(mine[0])

    # a ring: each rank sends to the next and receives from the previous
    following, previous = (rank + 1) % world, (rank - 1) % world
    incoming = ember.zeros(3)
    if rank % 2 == 0:
        dist.send(rank_values(rank), following)
        source = dist.recv(incoming, previous)
    else:
        source = dist.recv(incoming)
        dist.send(rank_values(rank), following)
    seen["ring"] = [source, incoming.tolist()]
    batched = ember.zeros(3)
    works = dist.batch_isend_irecv([dist.P2POp(dist.isend, rank_values(rank) * 2, following),
                                    dist.P2POp(dist.irecv, batched, previous)])
    for work in works:
        work.wait()
    seen["batch_isend_irecv"] = batched.tolist()
    if rank == 0:
        dist.send_object_list([{"config": 1}, "text"], dst=world - 1)
    if rank == world - 1:
        items = [None, None]
        seen["object_sender"] = dist.recv_object_list(items, src=0)
        seen["objects"] = items

    group = dist.new_group(list(range(world)))
    total = ember.ones(1)
    dist.all_reduce(total, group=group)
    seen["new_group"] = [group.rank(), group.size(), total.tolist(),
                         dist.get_global_rank(group, rank), dist.get_group_rank(group, rank)]
    dist.monitored_barrier()

    everyone = [None] * world
    dist.all_gather_object(everyone, seen)
    if rank == 0:
        with open(path, "w") as handle:
            json.dump(everyone, handle)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
