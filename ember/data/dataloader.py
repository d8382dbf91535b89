"""DataLoader: batches from a dataset through a sampler and a collate function.

``num_workers > 0`` loads batches in worker threads (NumPy releases the GIL) and yields them in
sampler order, so the result never depends on the number of workers. An IterableDataset is
read as PyTorch reads it: every worker iterates its own copy, the batches taken round-robin.
The threads are daemons: with ``timeout > 0`` a batch that takes longer raises PyTorch's
RuntimeError, and a thread stuck in ``__getitem__`` never keeps the process from exiting.
Each worker thread has its own default generator and its own Python and NumPy global streams,
seeded as PyTorch seeds its worker processes' (``_worker_random``).
"""
import concurrent.futures
import copy
import dataclasses
import itertools
import multiprocessing
import os
import queue
import threading
import warnings
from collections import deque
from typing import Generic

import numpy as np

from .. import _random
from ..tensor import Tensor
from . import _worker_random
from ._collate import default_collate, default_convert
from .dataset import IterableDataset, _tensor_rows
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, T_co

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]

_worker_local = threading.local()


@dataclasses.dataclass(eq=False)
class WorkerInfo:
    """What a worker thread knows about itself: ``id``, ``num_workers``, ``seed``, ``dataset``."""

    id: int  # noqa: A003 (PyTorch's field name)
    num_workers: int
    seed: int
    dataset: object

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def get_worker_info():
    """The current worker's ``WorkerInfo`` inside a DataLoader worker, else None."""
    return getattr(_worker_local, "info", None)


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: the dataset itself decides what comes next."""

    def __iter__(self):
        while True:
            yield None


@dataclasses.dataclass(eq=False)
class _Worker:
    """What one of PyTorch's worker processes keeps for its life: its info, its default
    generator (seeded with ``info.seed``) and whether ``worker_init_fn`` has run. A loader with
    ``persistent_workers`` keeps its workers across passes; the others make new ones each pass."""

    info: WorkerInfo
    generator: object
    streams: tuple  # its Python and NumPy global streams (_worker_random)
    initialized: bool = False

    @classmethod
    def start(cls, info):
        base_seed = info.seed - info.id
        return cls(info, _random.Generator().manual_seed(info.seed),
                   _worker_random.worker_streams(base_seed, info.id))

    def enter(self, worker_init_fn):
        """Become this worker in the calling thread; ``worker_init_fn`` on first entry only."""
        _worker_local.info = self.info
        _random.set_thread_generator(self.generator)
        _worker_random.enter(self.streams)
        if self.initialized or worker_init_fn is None:
            return
        self.initialized = True
        worker_init_fn(self.info.id)


def _worker_loop(tasks, fetch, worker, worker_init_fn):
    """One loading thread: run ``(future, key)`` tasks until a None arrives. An exception from
    ``worker_init_fn`` or the fetch goes to the batch's future, so the caller sees it."""
    init_error = None
    try:
        worker.enter(worker_init_fn)
    except BaseException as error:  # noqa: BLE001 (handed to the caller, as PyTorch does)
        init_error = error
    while True:
        task = tasks.get()
        if task is None:
            return
        future, key = task
        if not future.set_running_or_notify_cancel():
            continue
        if init_error is not None:
            future.set_exception(init_error)
            continue
        try:
            future.set_result(fetch(key))
        except BaseException as error:  # noqa: BLE001 (re-raised in the caller)
            future.set_exception(error)


def _check_worker_number(num_workers):
    """PyTorch's warning for more workers than the CPUs this process may run on."""
    if num_workers == 0:
        return
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count()
    if available is not None and num_workers > available:
        warnings.warn(f"This DataLoader will create {num_workers} worker processes in total. Our "
                      f"suggested max number of worker in current system is {available}, which "
                      f"is smaller than what this DataLoader is going to create. Please be aware "
                      f"that excessive worker creation might get DataLoader running slow or even "
                      f"freeze, lower the worker number to avoid potential slowness/freeze if "
                      f"necessary.", UserWarning, stacklevel=3)


def _checked_worker_options(num_workers, timeout, prefetch_factor, persistent_workers):
    """PyTorch's checks of the worker options; the prefetch factor to use."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    return prefetch_factor


def _sampling(dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, generator):
    """PyTorch's checks of the sampling options and the samplers they imply: (sampler,
    batch_sampler, batch_size, drop_last)."""
    if isinstance(dataset, IterableDataset):
        if shuffle not in (False, None):
            raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                             f"option, but got shuffle={shuffle}")
        if sampler is not None:
            raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                             f"option, but got sampler={sampler}")
        if batch_sampler is not None:
            raise ValueError("DataLoader with IterableDataset: expected unspecified "
                             f"batch_sampler option, but got batch_sampler={batch_sampler}")
    else:
        shuffle = bool(shuffle)
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                             "shuffle, sampler, and drop_last")
        batch_size = None
        drop_last = False
    elif batch_size is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually "
                         "exclusive with drop_last")
    if sampler is None:
        if isinstance(dataset, IterableDataset):
            sampler = _InfiniteConstantSampler()
        elif shuffle:
            sampler = RandomSampler(dataset, generator=generator)
        else:
            sampler = SequentialSampler(dataset)
    if batch_size is not None and batch_sampler is None:
        batch_sampler = BatchSampler(sampler, batch_size, drop_last)
    return sampler, batch_sampler, batch_size, drop_last


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches of ``batch_size`` (see PyTorch's DataLoader)."""

    _locked_attributes = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                          "persistent_workers")

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        prefetch_factor = _checked_worker_options(num_workers, timeout, prefetch_factor,
                                                  persistent_workers)
        sampler, batch_sampler, batch_size, drop_last = _sampling(
            dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, generator)
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context  # validated by the property
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._persistent = None  # the workers of a persistent_workers loader, once started
        self._initialized = True
        _check_worker_number(num_workers)

    @property
    def multiprocessing_context(self):
        """Accepted and checked as in PyTorch; ember's workers are threads, so it is unused."""
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, name, value):
        if getattr(self, "_initialized", False) and name in self._locked_attributes:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            length = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return -(-length // self.batch_size)
            return length
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if self.pin_memory:
            # ember has no accelerator: PyTorch's CPU build says so at each iterator
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, then "
                          "device pinned memory won't be used.", UserWarning, stacklevel=2)
        if self.num_workers == 0 and self.timeout != 0:
            # PyTorch's single-process iterator refuses a timeout the same way.
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        if isinstance(self.dataset, IterableDataset):
            if self.num_workers == 0:
                self._base_seed()
                return _SingleProcessDataLoaderIter(self, self._iterable_batches(self.dataset))
            return _MultiProcessingDataLoaderIter(
                self, self._iterable_workers(self._workers(_worker_copy)))
        fetch = self._fetch_batch if self._auto_collation else self._fetch_sample
        keys = iter(self.batch_sampler if self._auto_collation else self.sampler)
        if self.num_workers == 0:
            self._base_seed()
            return _SingleProcessDataLoaderIter(self, map(fetch, keys))
        batches, stop = self._threaded(fetch, keys, self._workers(), self.worker_init_fn)
        return _MultiProcessingDataLoaderIter(self, batches, stop)

    def _workers(self, copy_dataset=None):
        """This pass's workers. New ones from a fresh base seed each pass, as PyTorch starts new
        worker processes; with ``persistent_workers``, the first pass's workers again, their
        random streams going on where they stopped and ``worker_init_fn`` not run again."""
        if self._persistent is not None:
            return self._persistent
        base_seed = self._base_seed()
        workers = []
        for worker_id in range(self.num_workers):
            dataset = self.dataset if copy_dataset is None else copy_dataset(self.dataset)
            info = WorkerInfo(worker_id, self.num_workers, base_seed + worker_id, dataset)
            workers.append(_Worker.start(info))
        if self.persistent_workers:
            self._persistent = workers
        return workers

    # ---- fetching ---------------------------------------------------------------------------
    def _fetch_batch(self, indices):
        if self.collate_fn is default_collate:
            rows = _tensor_rows(self.dataset, indices)
            if rows is not None:
                return [Tensor._wrap(array) for array in rows]
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            samples = getitems(indices)
        else:
            dataset = self.dataset
            samples = [dataset[index] for index in indices]
        return self.collate_fn(samples)

    def _fetch_sample(self, index):
        return self.collate_fn(self.dataset[index])

    def _iterable_batches(self, dataset):
        stream = iter(dataset)
        if not self._auto_collation:
            for sample in stream:
                yield self.collate_fn(sample)
            return
        while True:
            samples = list(itertools.islice(stream, self.batch_size))
            if not samples or (self.drop_last and len(samples) < self.batch_size):
                return
            yield self.collate_fn(samples)

    def _base_seed(self):
        """The seed of this pass's workers (worker i gets it + i): one int64 ``random_()`` draw
        from the loader's generator when every pass starts, as PyTorch's iterator makes, so
        that the default stream advances as it does in PyTorch."""
        return int(_random.full_range(self.generator, (), np.int64))

    def _iterable_workers(self, workers):
        """PyTorch's reading of a stream by several workers: each iterates its own copy of the
        dataset (``get_worker_info()`` tells it which worker it is, to shard the stream) and
        batches it; the batches come round-robin from the workers not yet exhausted."""
        stop = threading.Event()
        outputs = []
        for worker_id, worker in enumerate(workers):
            output = queue.Queue(maxsize=max(1, self.prefetch_factor))
            outputs.append(output)
            threading.Thread(target=self._stream_worker, args=(worker, output, stop),
                             daemon=True, name=f"ember-dataloader-{worker_id}").start()
        timeout = self.timeout if self.timeout > 0 else None
        active = list(range(self.num_workers))
        try:
            while active:
                for worker_id in list(active):
                    try:
                        item = outputs[worker_id].get(timeout=timeout)
                    except queue.Empty:
                        raise RuntimeError(f"DataLoader timed out after {self.timeout} "
                                           f"seconds") from None
                    if item is _END:
                        active.remove(worker_id)
                    elif isinstance(item, _WorkerError):
                        raise item.error
                    else:
                        yield item
        finally:
            stop.set()

    def _stream_worker(self, worker, output, stop):
        """One stream worker: ``worker_init_fn``, then its copy's batches into ``output`` until
        the stream ends (then ``_END``), an error (handed over), or the loader stops."""

        def put(item):
            while not stop.is_set():
                try:
                    output.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            worker.enter(self.worker_init_fn)
            for batch in self._iterable_batches(worker.info.dataset):
                if not put(batch):
                    return
        except BaseException as error:  # noqa: BLE001 (re-raised in the caller)
            put(_WorkerError(error))
            return
        put(_END)

    def _threaded(self, fetch, keys, workers, worker_init_fn):
        """``fetch(key)`` for each key in daemon threads, one per ``_Worker`` (whose info is
        what ``get_worker_info()`` returns there): the results in key order, and the function
        that stops the threads. Keys go to the workers in turn from the first, as PyTorch hands
        out its batches, so that each worker's own random stream makes the draws PyTorch's
        worker makes; the first ``prefetch_factor`` per worker are handed out at once, as
        PyTorch's iterator does when it is made, so a sampler's draws (a shuffle's permutation)
        come before any draw the program makes before its first batch."""
        queues = [queue.SimpleQueue() for _ in workers]
        threads = [threading.Thread(target=_worker_loop, daemon=True,
                                    args=(tasks, fetch, worker, worker_init_fn),
                                    name=f"ember-dataloader-{index}")
                   for index, (tasks, worker) in enumerate(zip(queues, workers))]
        turns = itertools.cycle(queues)
        for thread in threads:
            thread.start()
        timeout = self.timeout if self.timeout > 0 else None
        pending = deque()
        stopped = []

        def submit(key):
            future = concurrent.futures.Future()
            next(turns).put((future, key))
            pending.append(future)

        def stop():
            if not stopped:
                stopped.append(True)
                for future in pending:
                    future.cancel()
                for tasks in queues:
                    tasks.put(None)  # a stuck thread never reads it; as a daemon it does not matter

        def results():
            try:
                while pending:
                    future = pending.popleft()
                    for key in itertools.islice(keys, 1):
                        submit(key)
                    try:
                        batch = future.result(timeout=timeout)
                    except concurrent.futures.TimeoutError:
                        raise RuntimeError(f"DataLoader timed out after {self.timeout} "
                                           f"seconds") from None
                    yield batch
            finally:
                stop()

        try:
            for key in itertools.islice(keys, max(1, self.prefetch_factor * len(threads))):
                submit(key)
        except BaseException:
            stop()
            raise
        return results(), stop


class _BaseDataLoaderIter:
    """What ``iter(loader)`` gives, as PyTorch's iterator: the batches, ``len()`` the loader's
    length, the dataset as ``_dataset``; ``stop`` ends a pass's worker threads when the
    iterator is dropped before its end."""

    def __init__(self, loader, batches, stop=None):
        self._dataset = loader.dataset
        self._loader = loader
        self._batches = batches
        self._stop = stop
        self._num_yielded = 0

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self._batches)
        self._num_yielded += 1
        return batch

    def __len__(self):
        return len(self._loader)

    def __del__(self):
        if self._stop is not None:
            self._stop()


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """The iterator of a loader without workers."""


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """The iterator of a loader with workers (threads in ember)."""


# What a stream's loading thread returns once the stream is exhausted.
_END = object()


@dataclasses.dataclass
class _WorkerError:
    """An exception raised in a stream worker, to be raised again by the caller."""

    error: BaseException


def _worker_copy(dataset):
    """A worker's own copy of an IterableDataset, as PyTorch's worker processes have one: what
    a worker (or its ``worker_init_fn``) changes stays in that worker. A shallow copy where a
    deep one is impossible (an open file, a lock)."""
    try:
        return copy.deepcopy(dataset)
    except Exception:  # noqa: BLE001 (any object may refuse to be copied deeply)
        return copy.copy(dataset)
