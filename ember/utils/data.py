"""Alias of ``ember.data`` under PyTorch's name, ``ember.utils.data``."""
from ..data import (  # noqa: F401
    BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
    RandomSampler, Sampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
    TensorDataset, WeightedRandomSampler, WorkerInfo, default_collate, default_convert,
    get_worker_info, random_split)
from ..distributed.sampler import DistributedSampler  # noqa: F401
