"""Join and DistributedDataParallel.join() in one process: the protocol a joined rank follows, the
errors, and a world of one. The multi-rank behaviour is in tests/reliability/test_mpi_faults.py."""
import warnings

import numpy as np
import pytest

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.distributed import DistributedDataParallel, ReduceOp
from ember.distributed.algorithms import Join, JoinHook, Joinable
from ember.distributed.comm import _DoneRequest


class ScriptedBackend(dist.Backend):
    """Rank 0 of two, recording every collective as (kind, dtype, shape, op). One-element
    all-reduces return the next value of ``answers`` (what the other rank contributes), others
    keep this rank's values."""

    name = "scripted"
    rank = 0
    world_size = 2

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.calls = []

    def iallreduce(self, array, op, label="", tag=0):
        self.calls.append(("all_reduce", array.dtype.name, array.shape, op))
        if array.size == 1 and self.answers:
            array[...] = self.answers.pop(0)
        return _DoneRequest()

    def broadcast(self, array, src, label=""):
        self.calls.append(("broadcast", array.dtype.name, array.shape, src))

    def allgather(self, array, label=""):
        self.calls.append(("all_gather", array.dtype.name, array.shape, None))
        return np.stack([array, array])

    def barrier(self, timeout=None):
        self.calls.append(("barrier", None, None, None))


@pytest.fixture
def scripted():
    def start(answers=()):
        backend = ScriptedBackend(answers)
        dist.init_process_group(backend)
        return backend

    yield start
    dist.destroy_process_group()


class Counting(Joinable):
    def __init__(self):
        super().__init__()
        self.main_calls = 0
        self.post_calls = []

    def join_hook(self, **kwargs):
        owner = self

        class Hook(JoinHook):
            def main_hook(self):
                owner.main_calls += 1

            def post_hook(self, is_last_joiner):
                owner.post_calls.append(is_last_joiner)

        return Hook()

    @property
    def join_device(self):
        return ember.device("cpu")

    @property
    def join_process_group(self):
        return None


def test_a_joined_rank_shadows_until_no_rank_is_left(scripted):
    scripted(answers=[1.0, 1.0, 0.0])  # the other rank runs two more iterations
    joinable = Counting()
    with Join([joinable]) as entered:
        assert entered is None
        assert joinable._join_config.enable and joinable._join_config.is_first_joinable
    assert joinable.main_calls == 2
    assert joinable.post_calls == [False]
    assert not joinable._join_config.enable  # plain again outside the context


def test_the_last_rank_to_join_is_told_so(scripted):
    scripted(answers=[0.0])
    joinable = Counting()
    with Join([joinable]):
        pass
    assert (joinable.main_calls, joinable.post_calls) == (0, [True])


def test_throw_on_early_termination(scripted):
    backend = scripted(answers=[1.0])
    joinable = Counting()
    with pytest.raises(RuntimeError, match=r"^Rank 0 exhausted all inputs\.$"):
        with Join([joinable], throw_on_early_termination=True):
            pass
    assert [call[0] for call in backend.calls] == ["all_reduce", "all_reduce"]
    # A rank still training learns it from the second all-reduce of its notification.
    scripted_active = Counting()
    Join([scripted_active], throw_on_early_termination=True)
    backend.answers = [2.0, 1.0]
    with pytest.raises(RuntimeError, match="Detected at least one rank that exhausted inputs. "
                                           "Throwing across all ranks."):
        Join.notify_join_context(scripted_active)


def test_disabled_and_exceptions_skip_the_shadowing(scripted):
    backend = scripted(answers=[1.0])
    joinable = Counting()
    with Join([joinable], enable=False):
        assert Join.notify_join_context(joinable) is None
    with pytest.raises(KeyError):
        with Join([joinable]):
            raise KeyError("from the body")
    assert backend.calls == [] and joinable.main_calls == 0


def test_uneven_skew_warning(scripted):
    scripted(answers=[1.0] * 1002 + [0.0])
    with pytest.warns(UserWarning, match="Detected uneven input skew of greater than 1000"):
        with Join([Counting()]):
            pass


def test_argument_errors_match_torch(torch, scripted):
    from torch.distributed.algorithms.join import Join as TorchJoin
    with pytest.raises(ValueError) as expected:
        TorchJoin([])
    with pytest.raises(ValueError) as got:
        Join([])
    assert str(got.value) == str(expected.value)
    scripted()

    class OtherGroup(Counting):
        @property
        def join_process_group(self):
            return "other"

    with pytest.raises(ValueError, match="Using join context manager with multiple process "
                                         "groups"):
        Join([OtherGroup(), Counting()])
    with pytest.raises(AssertionError, match="constructor calls the ``Joinable`` constructor"):
        Join.notify_join_context(object())


class PartlyUsed(nn.Module):
    """Linear, BatchNorm (buffers of two dtypes), Linear; ``unused`` never gets a gradient."""

    def __init__(self):
        super().__init__()
        ember.manual_seed(0)
        self.used = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
        self.unused = nn.Linear(2, 2)

    def forward(self, inputs):
        return self.used(inputs)


def test_joined_rank_issues_the_collectives_of_an_active_iteration(scripted):
    """What a joined rank runs per shadowed iteration must pair, collective for collective, with
    one forward and backward of a rank still training (buffers, unused parameters, buckets)."""
    backend = scripted()
    options = {"bucket_cap_mb": 0.0001, "find_unused_parameters": True}
    active = DistributedDataParallel(PartlyUsed(), **options)
    Join([active])  # an enabled context, as on a rank still training
    backend.calls.clear()
    backend.answers = [2.0, 1.0]  # two ranks training; the highest is rank 1
    active(ember.randn(4, 3)).sum().backward()
    active_calls = list(backend.calls)

    joined = DistributedDataParallel(PartlyUsed(), **options)
    backend.calls.clear()
    backend.answers = [1.0, 1.0, 1.0, 0.0, 1.0]  # one iteration shadowed, then all joined
    with Join([joined]):
        pass
    shadowed = backend.calls[:len(active_calls)]
    assert [call[:3] for call in shadowed] == [call[:3] for call in active_calls]
    # notify, source rank, buffers (float32, int64), sync flag, each bucket, used parameters
    buckets = len(active._buckets)
    assert buckets >= 2
    assert [call[0] for call in active_calls] == (["all_reduce", "all_reduce", "broadcast",
                                                   "broadcast", "all_reduce"]
                                                  + ["all_reduce"] * (buckets + 1))
    assert active_calls[-1][1:] == ("int32", (8,), ReduceOp.MAX)  # one flag per parameter
    final = backend.calls[len(active_calls):]
    assert final[0] == ("all_reduce", "float32", (1,), ReduceOp.SUM)  # nobody left
    assert final[1][:2] == ("all_reduce", "int64") and final[1][3] is ReduceOp.MAX
    assert {call[0] for call in final[2:]} == {"broadcast"}  # the last joiner's model
    assert {call[3] for call in final[2:]} == {1}


def test_divide_by_the_ranks_still_training(scripted):
    backend = scripted()
    ddp = DistributedDataParallel(nn.Linear(2, 1, bias=False))
    inputs = ember.ones(1, 2)
    for divide, count, expected in ((True, 1.0, 0.5), (False, 1.0, 1.0), (False, 2.0, 0.5)):
        join = ddp.join(divide_by_initial_world_size=divide)
        assert isinstance(join, Join)
        ddp.zero_grad()
        backend.answers = [count]  # how many ranks are still training
        ddp(inputs).sum().backward()
        # ScriptedBackend keeps this rank's bucket: the gradient [1, 1] over the divisor.
        np.testing.assert_allclose(ddp.module.weight.grad.numpy(), [[expected, expected]])


def test_join_in_a_world_of_one_trains_as_usual(single_world):
    ember.manual_seed(0)
    reference = nn.Linear(3, 2)
    ember.manual_seed(0)
    ddp = DistributedDataParallel(nn.Linear(3, 2))
    inputs = ember.randn(5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ddp.join():
            F.mse_loss(ddp(inputs), ember.zeros(5, 2)).backward()
    F.mse_loss(reference(inputs), ember.zeros(5, 2)).backward()
    np.testing.assert_allclose(ddp.module.weight.grad.numpy(), reference.weight.grad.numpy(),
                               rtol=1e-6)
