"""DataLoader(timeout=...) with worker threads: a stuck ``__getitem__`` raises PyTorch's error
instead of hanging, and the process can still exit (the threads are daemons)."""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import ember
from ember.data import DataLoader, Dataset, IterableDataset, get_worker_info

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Stuck(Dataset):
    """Eight samples; loading ``stuck_index`` blocks until ``release`` is set."""

    def __init__(self, stuck_index):
        self.stuck_index = stuck_index
        self.release = threading.Event()

    def __len__(self):
        return 8

    def __getitem__(self, index):
        if index == self.stuck_index:
            self.release.wait(60)
        return np.float32(index)


class StuckStream(IterableDataset):
    def __init__(self):
        self.release = threading.Event()

    def __iter__(self):
        yield np.float32(0)
        self.release.wait(60)
        yield np.float32(1)


@pytest.mark.parametrize("num_workers", [1, 3])
def test_a_stuck_sample_raises_torchs_timeout_error(num_workers):
    dataset = Stuck(stuck_index=4)
    loader = DataLoader(dataset, batch_size=2, num_workers=num_workers, timeout=0.3)
    seen = []
    try:
        with pytest.raises(RuntimeError) as error:
            for batch in loader:
                seen.append(batch.tolist())
    finally:
        dataset.release.set()
    assert str(error.value) == "DataLoader timed out after 0.3 seconds"
    assert seen == [[0.0, 1.0], [2.0, 3.0]]  # the batches before the stuck one arrived in order


def test_a_stuck_stream_raises_too():
    dataset = StuckStream()
    try:
        with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 1 seconds$"):
            list(DataLoader(dataset, batch_size=1, num_workers=2, timeout=1))
    finally:
        dataset.release.set()


def test_the_message_is_torchs(torch):
    class TorchStuck(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            if index == 2:
                import time
                time.sleep(30)
            return index

    loader = torch.utils.data.DataLoader(TorchStuck(), batch_size=2, num_workers=1, timeout=0.5)
    with pytest.raises(RuntimeError) as expected:
        list(loader)
    dataset = Stuck(stuck_index=2)
    try:
        with pytest.raises(RuntimeError) as got:
            list(DataLoader(dataset, batch_size=2, num_workers=1, timeout=0.5))
    finally:
        dataset.release.set()
    assert str(got.value) == str(expected.value)


def test_slow_but_not_stuck_batches_are_fine_and_order_is_kept():
    loader = DataLoader(Stuck(stuck_index=None), batch_size=3, shuffle=True, num_workers=2,
                        timeout=5, generator=ember.Generator().manual_seed(1))
    plain = DataLoader(Stuck(stuck_index=None), batch_size=3, shuffle=True,
                       generator=ember.Generator().manual_seed(1))
    assert [batch.tolist() for batch in loader] == [batch.tolist() for batch in plain]


def test_worker_errors_and_worker_init_errors_reach_the_caller():
    class Broken(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            raise KeyError(f"sample {index} is corrupt")

    with pytest.raises(KeyError, match="sample 0 is corrupt"):
        list(DataLoader(Broken(), batch_size=2, num_workers=2, timeout=5))

    def failing_init(worker_id):
        raise ValueError(f"worker {worker_id} cannot start")

    with pytest.raises(ValueError, match="cannot start"):
        list(DataLoader(Stuck(None), batch_size=2, num_workers=2, worker_init_fn=failing_init))


def test_workers_see_their_info_and_leave_when_done():
    ids = []

    class Recording(Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, index):
            ids.append(get_worker_info().id)
            return index

    before = set(threading.enumerate())
    assert sum(len(batch) for batch in DataLoader(Recording(), batch_size=2,
                                                  num_workers=2)) == 6
    assert set(ids) <= {0, 1}
    started = [thread for thread in set(threading.enumerate()) - before
               if thread.name.startswith("ember-dataloader")]
    for thread in started:
        thread.join(5)
        assert not thread.is_alive() and thread.daemon


def test_a_process_with_a_stuck_worker_still_exits():
    script = textwrap.dedent("""
        import time
        from ember.data import DataLoader, Dataset

        class Forever(Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, index):
                while True:
                    time.sleep(1)

        try:
            next(iter(DataLoader(Forever(), batch_size=2, num_workers=2, timeout=0.2)))
        except RuntimeError as error:
            print(error)
    """)
    environment = dict(os.environ)
    environment["PYTHONPATH"] = ROOT + os.pathsep + environment.get("PYTHONPATH", "")
    try:
        completed = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                   text=True, timeout=60, env=environment)
    except subprocess.TimeoutExpired:
        pytest.fail("the process did not exit: a stuck loading thread kept it alive")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "DataLoader timed out after 0.2 seconds\n"


@pytest.mark.parametrize("kwargs", [{"timeout": -1}, {"timeout": -0.5, "num_workers": 2}])
def test_negative_timeout_matches_torch(torch, kwargs):
    with pytest.raises(ValueError) as expected:
        torch.utils.data.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError) as got:
        DataLoader(list(range(4)), **kwargs)
    assert str(got.value) == str(expected.value) == "timeout option should be non-negative"


def test_timeout_without_workers_matches_torch(torch):
    torch_loader = torch.utils.data.DataLoader(list(range(4)), timeout=5)
    loader = DataLoader(list(range(4)), timeout=5)  # accepted, as in torch ...
    with pytest.raises(AssertionError) as expected:
        iter(torch_loader)
    with pytest.raises(AssertionError) as got:
        iter(loader)  # ... but the single-process iterator refuses it
    assert str(got.value) == str(expected.value)
