"""ember.distributed collectives in one process: the fallback world, a plugged-in backend,
errors."""
import datetime
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
import ember.distributed as dist
from ember.distributed import ReduceOp


@pytest.fixture
def world():
    dist.init_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


class _TwinBackend(dist.Backend):
    """A pretend world of two ranks holding identical values: SUM doubles, MAX/MIN keep."""

    name = "twin"
    rank = 1
    world_size = 2

    def __init__(self):
        self.calls = []

    def iallreduce(self, array, op, label="", tag=0):
        self.calls.append(("allreduce", op, array.flags.c_contiguous))
        if op is ReduceOp.SUM:
            array *= 2
        elif op is ReduceOp.PRODUCT:
            array *= array
        return dist.comm._DoneRequest()

    def broadcast(self, array, src, label=""):
        self.calls.append(("broadcast", src))
        array[...] = src

    def allgather(self, array, label=""):
        return np.stack([array, array + 1])

    def barrier(self, timeout=None):
        self.calls.append(("barrier",))


def test_not_initialized_errors_match_torch():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier,
                 lambda: dist.all_reduce(ember.ones(2))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()


def test_fallback_world_is_one_process(world):
    assert dist.is_initialized() and dist.is_available()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (0, 1, "single")
    tensor = ember.tensor([1.0, -2.0, 3.0])
    for op in ReduceOp:
        dist.all_reduce(tensor, op=op)
    np.testing.assert_array_equal(tensor.numpy(), [1.0, -2.0, 3.0])
    assert tensor.dtype == ember.float32
    dist.broadcast(tensor, src=0)
    outputs = [ember.zeros(3)]
    dist.all_gather(outputs, tensor)
    np.testing.assert_array_equal(outputs[0].numpy(), tensor.numpy())
    dist.barrier()


def test_initialising_twice_is_an_error_and_destroy_allows_again(world):
    with pytest.raises(ValueError, match="trying to initialize the default process group twice!"):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    assert not dist.is_initialized()
    dist.init_process_group("mpi", world_size=1, rank=0)
    assert dist.get_world_size() == 1


def test_bad_init_arguments():
    with pytest.raises(ValueError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="world_size=4 but the launcher started 1"):
        dist.init_process_group(world_size=4)
    assert not dist.is_initialized()


def test_timeout_argument_matches_torch(torch):
    import torch.distributed as torch_dist
    with pytest.raises(TypeError) as expected:
        torch_dist.init_process_group("gloo", timeout=5, init_method="tcp://127.0.0.1:1",
                                      rank=0, world_size=1)
    with pytest.raises(TypeError) as got:
        dist.init_process_group(timeout=5)
    assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError, match="init_process_group: timeout must be positive, got "
                                         "0:00:00"):
        dist.init_process_group(timeout=datetime.timedelta(0))
    assert not dist.is_initialized()


def test_timeout_reaches_the_engine_with_a_ten_minute_default():
    backend = _TwinBackend()
    dist.init_process_group(backend)
    try:
        assert backend.timeout == 600.0 == dist.default_pg_timeout.total_seconds()
        with pytest.raises(TypeError, match="Expected timeout argument to be of type "
                                            "datetime.timedelta, got 2.5"):
            dist.barrier(timeout=2.5)
    finally:
        dist.destroy_process_group()
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=3))
    try:
        assert backend.timeout == 3.0
        assert dist.barrier(timeout=datetime.timedelta(seconds=1)) is None
        assert backend.calls[-1] == ("barrier",)
        tensor = ember.ones(2)
        work = dist.all_reduce(tensor, async_op=True)
        assert work.result()[0] is tensor and work.is_completed()
    finally:
        dist.destroy_process_group()


def test_launcher_detection_reads_the_environment(monkeypatch):
    for name in dist.comm._LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    assert not dist.launched_under_mpi()
    monkeypatch.setenv("PMI_RANK", "0")
    assert dist.launched_under_mpi()


def test_plugged_in_backend_average_keeps_float32_and_fills_views():
    backend = _TwinBackend()
    dist.init_process_group(backend)
    try:
        assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (1, 2, "twin")
        tensor = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
        version = tensor._version
        dist.all_reduce(tensor, op=ReduceOp.AVG)
        np.testing.assert_array_equal(tensor.numpy(), [[1.0, 2.0], [3.0, 4.0]])
        assert tensor.dtype == ember.float32 and tensor._version > version
        dist.all_reduce(tensor)
        np.testing.assert_array_equal(tensor.numpy(), [[2.0, 4.0], [6.0, 8.0]])
        column = tensor.t()  # a non-contiguous view: reduced through a copy, written back
        dist.all_reduce(column)
        np.testing.assert_array_equal(tensor.numpy(), [[4.0, 8.0], [12.0, 16.0]])
        work = dist.all_reduce(tensor, op=ReduceOp.AVG, async_op=True)
        work.wait()
        assert work.is_completed()
        np.testing.assert_array_equal(tensor.numpy(), [[4.0, 8.0], [12.0, 16.0]])
        dist.broadcast(tensor, src=1)
        np.testing.assert_array_equal(tensor.numpy(), np.ones((2, 2)))
        outputs = [ember.zeros(2, 2), ember.zeros(2, 2, dtype=ember.float64)]
        dist.all_gather(outputs, tensor)
        np.testing.assert_array_equal(outputs[1].numpy(), 2 * np.ones((2, 2)))
        assert outputs[1].dtype == ember.float64
        assert dist.all_reduce_metrics({"correct": 3, "count": 5}) == {"correct": 6.0,
                                                                       "count": 10.0}
    finally:
        dist.destroy_process_group()


def test_collective_argument_errors():
    dist.init_process_group(_TwinBackend())
    try:
        with pytest.raises(RuntimeError, match="AVG needs a floating-point tensor"):
            dist.all_reduce(ember.tensor([1, 2]), op=ReduceOp.AVG)
        with pytest.raises(TypeError, match="op must be a ReduceOp"):
            dist.all_reduce(ember.ones(2), op="sum")
        with pytest.raises(TypeError, match="expected a Tensor"):
            dist.all_reduce(np.ones(2))
        with pytest.raises(RuntimeError, match="invalid root rank: 2"):
            dist.broadcast(ember.ones(2), src=2)
        with pytest.raises(RuntimeError, match="tensor_list must hold world_size=2 tensors, got 1"):
            dist.all_gather([ember.ones(2)], ember.ones(2))
        with pytest.raises(RuntimeError, match=r"tensor_list\[1\] must be a Tensor of shape \[2\]"):
            dist.all_gather([ember.ones(2), ember.ones(3)], ember.ones(2))
        with pytest.raises(RuntimeError, match="read-only"):
            dist.all_reduce(ember.ones(1).expand(3))
        with pytest.raises(ValueError, match="only the default process group"):
            dist.get_rank(group="other")
    finally:
        dist.destroy_process_group()


def test_boolean_all_reduce_is_a_logical_or_or_and():
    backend = _TwinBackend()
    dist.init_process_group(backend)
    try:
        flags = ember.tensor([True, False])
        for op, expected in ((ReduceOp.SUM, ReduceOp.MAX), (ReduceOp.MAX, ReduceOp.MAX),
                             (ReduceOp.PRODUCT, ReduceOp.MIN), (ReduceOp.MIN, ReduceOp.MIN)):
            dist.all_reduce(flags, op=op)
            assert backend.calls[-1][1] is expected
        assert flags.dtype == ember.bool and flags.tolist() == [True, False]
    finally:
        dist.destroy_process_group()


def test_integer_all_reduce_keeps_dtype(world):
    tensor = ember.tensor([3, 4])
    dist.all_reduce(tensor, op=ReduceOp.MAX)
    assert tensor.dtype == ember.int64


def test_the_fallback_never_imports_mpi4py():
    # Importing mpi4py initialises MPI; outside a launcher the fallback must not do it.
    environment = {name: value for name, value in os.environ.items()
                   if name not in dist.comm._LAUNCHER_VARIABLES}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    environment["PYTHONPATH"] = root + os.pathsep + environment.get("PYTHONPATH", "")
    code = ("import sys, ember, ember.distributed as dist; dist.init_process_group('mpi'); "
            "print(dist.get_backend(), 'mpi4py' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=60, env=environment)
    assert completed.stdout.split() == ["single", "False"], completed.stderr


def test_gloo_is_accepted_as_pytorch_cpu_scripts_ask_for_it():
    dist.init_process_group("gloo", rank=0, world_size=1)
    try:
        assert (dist.get_backend(), dist.get_rank(), dist.get_world_size()) == ("gloo", 0, 1)
        tensor = ember.tensor([1.0, 2.0])
        dist.all_reduce(tensor)
        np.testing.assert_array_equal(tensor.numpy(), [1.0, 2.0])
    finally:
        dist.destroy_process_group()


class _EchoBackend(dist.Backend):
    """Two pretend ranks that sent the same bytes (this process is rank 0)."""

    name = "echo"
    rank = 0
    world_size = 2

    def broadcast(self, array, src, label=""):
        pass

    def allgather(self, array, label=""):
        return np.stack([array, array])


def test_object_collectives_pickle_through_the_engine(world):
    objects = [None]
    dist.all_gather_object(objects, {"rank": 0, "loss": 0.5})
    assert objects == [{"rank": 0, "loss": 0.5}]
    sent = ["config", {"lr": 0.1}, (1, 2)]
    dist.broadcast_object_list(sent, src=0)
    assert sent == ["config", {"lr": 0.1}, (1, 2)]
    dist.destroy_process_group()
    dist.init_process_group(_EchoBackend())
    gathered = [None, None]
    dist.all_gather_object(gathered, ("epoch", 3, ember.tensor([1.0])))
    assert [item[:2] for item in gathered] == [("epoch", 3), ("epoch", 3)]
    np.testing.assert_array_equal(gathered[1][2].numpy(), [1.0])
    with pytest.raises(RuntimeError, match="invalid root rank: 2"):
        dist.broadcast_object_list([1], src=2)


def test_gather_into_one_tensor_and_all_to_all_as_torch_in_one_process(world, torch):
    """The collectives transformers imports from torch.distributed (expert parallelism),
    against gloo's answers in a world of one."""
    import torch.distributed as theirs
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    theirs.init_process_group("gloo", rank=0, world_size=1)
    try:
        results = []
        for library, collectives in ((ember, dist), (torch, theirs)):
            gathered = library.zeros(2, 3)
            with pytest.warns(FutureWarning, match="all_gather_into_tensor` is deprecated"):
                collectives.all_gather_into_tensor(gathered, library.arange(6.0).reshape(2, 3))
            exchanged = library.zeros(4)
            collectives.all_to_all_single(exchanged, library.arange(4.0))
            results.append((gathered.tolist(), exchanged.tolist(),
                            collectives.get_process_group_ranks(collectives.group.WORLD)
                            if library is torch else collectives.get_process_group_ranks(None)))
        assert results[0] == results[1]
    finally:
        theirs.destroy_process_group()


def test_gather_into_one_tensor_concatenates_or_stacks_the_ranks():
    dist.init_process_group(_TwinBackend())
    try:
        concatenated = ember.zeros(4)
        with pytest.warns(FutureWarning):
            dist.all_gather_into_tensor(concatenated, ember.tensor([1.0, 2.0]))
        assert concatenated.tolist() == [1.0, 2.0, 2.0, 3.0]
        stacked = ember.zeros(2, 2)
        with pytest.warns(FutureWarning):
            dist.all_gather_into_tensor(stacked, ember.tensor([1.0, 2.0]))
        assert stacked.tolist() == [[1.0, 2.0], [2.0, 3.0]]
        with pytest.warns(FutureWarning), pytest.raises(RuntimeError, match="must have shape"):
            dist.all_gather_into_tensor(ember.zeros(5), ember.tensor([1.0, 2.0]))
        assert dist.get_process_group_ranks(None) == [0, 1]
    finally:
        dist.destroy_process_group()


def _world_group_outcome(library):
    """What Lightning's sync code asks of the default group, before, during and after it."""
    before = library.distributed.group.WORLD
    library.distributed.init_process_group("gloo", init_method="tcp://127.0.0.1:29533",
                                           world_size=1, rank=0)
    try:
        world = library.distributed.group.WORLD
        tensor = library.tensor([1.0, 2.0])
        library.distributed.all_reduce(tensor, op=library.distributed.ReduceOp.SUM, group=world)
        during = (isinstance(world, library.distributed.ProcessGroup), world.rank(),
                  world.size(), library.distributed.get_rank(group=world),
                  library.distributed.GroupMember.WORLD is world, tensor.tolist())
    finally:
        library.distributed.destroy_process_group()
    return (before, during, library.distributed.group.WORLD,
            library.distributed.GroupMember.NON_GROUP_MEMBER,
            isinstance(library.distributed.ReduceOp.SUM, library.distributed.ReduceOp.RedOpType))


def test_default_group_and_reduce_op_type_like_torch(torch):
    # lightning_fabric: from torch.distributed import ProcessGroup, ReduceOp; ReduceOp.RedOpType
    assert _world_group_outcome(ember) == _world_group_outcome(torch)
