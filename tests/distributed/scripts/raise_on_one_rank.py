"""The last rank raises while the others wait in a collective: the whole job must end quickly.

Run as ``mpiexec -n N python raise_on_one_rank.py`` (ember's own abort-on-uncaught-exception hook)
or with ``python -m mpi4py`` (mpi4py's runner); it must never hang.
"""
import ember
import ember.distributed as dist

dist.init_process_group("mpi")
if dist.get_rank() == dist.get_world_size() - 1:
    raise RuntimeError("deliberate failure on the last rank")
dist.all_reduce(ember.ones(3))  # waits for the failed rank
dist.barrier()
print("unreachable: the job should have been aborted", flush=True)
