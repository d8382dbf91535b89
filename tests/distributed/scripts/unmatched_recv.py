"""Rank 1 waits for a message rank 0 never sends: the receive must time out with an error that
says what it waited for, and the job must end (run by tests/distributed/test_collectives.py)."""
import datetime

import ember
import ember.distributed as dist

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=2))
if dist.get_rank() == 1:
    dist.recv(ember.zeros(2), src=0)
    print("unreachable")
else:
    dist.barrier()
