"""torch.cuda.nvtx without CUDA: every marker raises, as in PyTorch's CPU build."""

__all__ = ["mark", "range", "range_end", "range_pop", "range_push", "range_start"]


def _not_installed(*args, **kwargs):
    raise RuntimeError("NVTX functions not installed. Are you sure you have a CUDA build?")


range_push = range_pop = range_start = range_end = mark = range = _not_installed
