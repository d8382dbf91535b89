"""``torch.distributed.constants``: the default collective timeout (ember's, docs/distributed.md)
and the NCCL one, which a CPU build does not have."""
from .comm import default_pg_timeout  # noqa: F401

__all__ = ["default_pg_nccl_timeout", "default_pg_timeout"]

default_pg_nccl_timeout = None
