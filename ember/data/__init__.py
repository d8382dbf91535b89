"""Datasets, samplers and the DataLoader (also importable as ``ember.utils.data``)."""
from ._collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader, WorkerInfo, get_worker_info  # noqa: F401
from .dataset import (  # noqa: F401
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
    random_split)
from .sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler)


def __getattr__(name):
    # DistributedSampler lives in ember.distributed, the layer above data: resolved on first use.
    if name == "DistributedSampler":
        import importlib
        return importlib.import_module("ember.distributed.sampler").DistributedSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
