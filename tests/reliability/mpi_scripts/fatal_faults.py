"""MPI faults that end the job: run as ``mpiexec -n N python fatal_faults.py SCENARIO``.

``stuck_rank``: the last rank hangs in a dataset's ``__getitem__`` while the others wait in
DistributedDataParallel's gradient all-reduce; each waiting rank must raise DistBackendError naming
the collective and the stuck rank once the 1 s timeout passes, and the job must end.
``early_exit``: the last rank leaves its training loop early and its script ends; the others must
fail at once, naming the rank that left, instead of waiting.
``late_init``: the last rank never reaches ``init_process_group``; the others must give up after
the 1 s timeout (MPI's own start-up would wait forever) and the job must end.
"""
import os
import datetime
import sys
import time

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
from ember.data import DataLoader, Dataset
from ember.distributed import DistributedDataParallel


class Samples(Dataset):
    """Eight samples; on ``stuck_rank`` the item ``stuck_index`` never finishes loading."""

    def __init__(self, stuck_index):
        self.stuck_index = stuck_index

    def __len__(self):
        return 8

    def __getitem__(self, index):
        if index == self.stuck_index:
            time.sleep(600)
        rng = np.random.default_rng(index)
        return rng.normal(size=3).astype(np.float32), int(index % 2)


def main():
    scenario = sys.argv[1]
    if scenario == "late_init" and os.environ.get("PMI_RANK") == "1":
        time.sleep(600)
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=1))
    rank, world_size = dist.get_rank(), dist.get_world_size()
    last = rank == world_size - 1
    ember.manual_seed(0)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    stuck_index = 2 if scenario == "stuck_rank" and last else None
    for step, (inputs, targets) in enumerate(DataLoader(Samples(stuck_index), batch_size=2)):
        if scenario == "early_exit" and last and step == 1:
            print(f"rank {rank} leaves early", flush=True)
            return
        optimizer.zero_grad()
        F.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
    print(f"unreachable: rank {rank} finished", flush=True)


if __name__ == "__main__":
    try:
        main()
    except dist.DistBackendError as error:
        # Each rank's error goes out in one write (atomic on a pipe below 4 KiB) and the rank
        # then ends without a traceback: tracebacks of several ranks interleave mid-line on the
        # shared stderr pipe, and a fragment could start a line the test reads as an error.
        os.write(2, f"\n{type(error).__name__}: {error}\n".encode())
        os._exit(1)
