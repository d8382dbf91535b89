"""The rooted, scattering and point-to-point collectives: on 2 and 3 MPI ranks against
expectations worked out here from each rank's inputs, and in a world of one against gloo's
answers (values and the errors of misuse)."""
import json
import os

import numpy as np
import pytest

import ember
import ember.distributed as dist

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")


def _rank_values(rank, count=3):
    return [10.0 * rank + index for index in range(count)]


def _expected(rank, world):
    """What tests/distributed/scripts/collectives.py's rank ``rank`` must have seen."""
    values = np.array([_rank_values(source) for source in range(world)])
    seen = {
        "reduce": values.sum(axis=0).tolist() if rank == world - 1 else _rank_values(rank),
        "reduce_max": values.max(axis=0).tolist() if rank == 0 else _rank_values(rank),
        "gather": values.tolist() if rank == 1 else None,
        "scatter": [100.0 * rank, 100.0 * rank + 1],
        "reduce_scatter": [float(sum(source + rank for source in range(world)))] * 2,
        "reduce_scatter_tensor": (np.arange(2 * world)[2 * rank:2 * rank + 2]
                                  * sum(range(1, world + 1))).astype(float).tolist(),
        "all_to_all": [[10.0 * source + rank] * (source + 1) for source in range(world)],
        "all_to_all_single": [[10.0 * source + rank] * 2 for source in range(world)
                              for _ in range(rank + 1)],
        "gather_object": ([{"rank": source, "name": f"r{source}"} for source in range(world)]
                          if rank == 0 else None),
        "scatter_object_list": ["item", rank],
        "ring": [(rank - 1) % world, _rank_values((rank - 1) % world)],
        "batch_isend_irecv": [2 * value for value in _rank_values((rank - 1) % world)],
        "new_group": [rank, world, [float(world)], rank, rank],
    }
    if rank == world - 1:
        seen["object_sender"] = 0
        seen["objects"] = [{"config": 1}, "text"]
    return seen


@pytest.mark.parametrize("world", [2, 3])
def test_collectives_on_mpi_ranks(world, mpi_job, tmp_path):
    result = tmp_path / "seen.json"
    completed = mpi_job(world, ["-m", "mpi4py", os.path.join(SCRIPTS, "collectives.py"),
                                str(result)], timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    seen = json.loads(result.read_text())
    for rank in range(world):
        assert seen[rank] == _expected(rank, world), f"rank {rank}"


def _outcome(action):
    try:
        return ("ok", action())
    except Exception as error:  # noqa: BLE001 (the outcome compared is the exception)
        return (type(error).__name__, str(error).split("::")[-1].strip())


def _single_process_outcomes(library, collectives):
    """Each collective's result, or its error, in a world of one."""
    values = lambda: library.tensor([1.0, 2.0])  # noqa: E731
    outcomes = {}

    def record(name, action):
        outcomes[name] = _outcome(action)

    def reduced():
        tensor = values()
        collectives.reduce(tensor, 0, op=collectives.ReduceOp.MAX)
        return tensor.tolist()
    record("reduce", reduced)
    record("reduce without dst", lambda: collectives.reduce(values()))

    def gathered():
        outputs = [library.zeros(2)]
        collectives.gather(values(), outputs)
        return [item.tolist() for item in outputs]
    record("gather", gathered)
    record("gather without list", lambda: collectives.gather(values(), dst=0))
    record("gather, list too long",
           lambda: collectives.gather(values(), [library.zeros(2), library.zeros(2)], dst=0))

    def scattered():
        tensor = library.zeros(2)
        collectives.scatter(tensor, [library.tensor([5.0, 6.0])], src=0)
        return tensor.tolist()
    record("scatter", scattered)
    record("scatter without list", lambda: collectives.scatter(values(), src=0))

    def reduce_scattered():
        output, chunk = library.zeros(2), library.zeros(2)
        collectives.reduce_scatter(output, [library.tensor([3.0, 4.0])])
        collectives.reduce_scatter_tensor(chunk, library.tensor([7.0, 8.0]))
        return output.tolist(), chunk.tolist()
    record("reduce_scatter", reduce_scattered)

    def exchanged():
        outputs, single = [library.zeros(2)], library.zeros(3)
        collectives.all_to_all(outputs, [library.tensor([9.0, 9.5])])
        collectives.all_to_all_single(single, library.arange(3.0), [3], [3])
        return outputs[0].tolist(), single.tolist()
    record("all_to_all", exchanged)

    def objects():
        gathered, mine = [None], [None]
        collectives.gather_object({"a": 1}, gathered, dst=0)
        collectives.scatter_object_list(mine, [("x", 2)], src=0)
        return gathered, mine
    record("object collectives", objects)
    record("gather_object without list", lambda: collectives.gather_object(1, dst=0))
    record("scatter_object_list into nothing",
           lambda: collectives.scatter_object_list([], [1], src=0))
    record("send to itself", lambda: collectives.send(values(), 0))
    record("send without dst", lambda: collectives.send(values()))
    group = collectives.new_group([0])
    record("new_group", lambda: (group.rank(), group.size(), collectives.get_rank(group),
                                 collectives.get_process_group_ranks(group),
                                 collectives.get_global_rank(group, 0),
                                 collectives.get_group_rank(collectives.group.WORLD, 5)))
    record("new_group out of range", lambda: collectives.new_group([1]))
    record("global rank outside the group",
           lambda: collectives.get_global_rank(group, 3).split(" <")[0])
    record("availability", lambda: (collectives.is_gloo_available(),
                                    collectives.is_nccl_available(),
                                    collectives.is_backend_available("gloo"),
                                    collectives.is_backend_available("nccl")))
    record("monitored_barrier", collectives.monitored_barrier)
    record("node local rank with fallback", lambda: collectives.get_node_local_rank(3))
    record("P2POp of another function",
           lambda: collectives.P2POp(collectives.all_reduce, values(), 0))
    return outcomes


def test_collectives_in_a_world_of_one_as_gloo(torch, monkeypatch):
    import torch.distributed as theirs
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29547")
    theirs.init_process_group("gloo", rank=0, world_size=1)
    try:
        expected = _single_process_outcomes(torch, theirs)
    finally:
        theirs.destroy_process_group()
    dist.init_process_group("gloo")
    try:
        outcomes = _single_process_outcomes(ember, dist)
    finally:
        dist.destroy_process_group()
    # the group's printed form is each library's own
    for name in ("global rank outside the group",):
        expected[name] = (expected[name][0], expected[name][1].split(" <")[0])
        outcomes[name] = (outcomes[name][0], outcomes[name][1].split(" <")[0])
    assert outcomes == expected


def test_node_local_rank_comes_from_the_launcher(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert dist.get_node_local_rank() == 2
    monkeypatch.delenv("LOCAL_RANK")
    with pytest.raises(RuntimeError, match="LOCAL_RANK is not in the environment"):
        dist.get_node_local_rank()


def test_a_group_of_some_ranks_is_refused_by_name():
    class Pair(dist.SingleProcessBackend):
        world_size = 2
    dist.init_process_group(Pair())
    try:
        with pytest.raises(NotImplementedError, match=r"group of ranks \[1\] out of 2"):
            dist.new_group([1])
        assert dist.get_process_group_ranks(dist.new_group([1, 0])) == [0, 1]
    finally:
        dist.destroy_process_group()


def test_a_receive_never_matched_times_out_and_ends_the_job(mpi_job):
    completed = mpi_job(2, ["-m", "mpi4py", os.path.join(SCRIPTS, "unmatched_recv.py")],
                        timeout=60)
    assert completed.returncode != 0
    assert "recv from rank 0 timed out after 2 s" in completed.stderr
    assert "unreachable" not in completed.stdout
