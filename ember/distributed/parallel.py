"""DistributedDataParallel: a model replica per rank, gradients averaged in buckets during backward.

Each rank runs forward and backward on its shard of the batch. Parameters are grouped, in reverse
registration order (roughly the order backward produces their gradients), into buckets of at most
``bucket_cap_mb``. When every gradient of a bucket has been accumulated, its gradients are copied
into one flat array and a non-blocking all-reduce starts, so communication overlaps the rest of
backward; buckets start strictly in order so every rank issues the same sequence of collectives.
A callback queued on the backward pass waits for them and writes the averages back to ``.grad``.
"""
import contextlib
import hashlib
import json
import weakref

import numpy as np

from .._device import device
from ..autograd import engine
from ..autograd.grad_mode import is_grad_enabled
from ..nn.modules.module import Module
from ..tensor import Tensor
from . import comm
from .algorithms.join import Join, JoinHook, Joinable
from .comm import ReduceOp


_FIRST_BUCKET_BYTES = 2 ** 20
_USED_LABEL = "DistributedDataParallel used parameters"


class _Bucket:
    """Flat gradient storage for a run of same-dtype parameters, and its state for one backward."""

    __slots__ = ("params", "offsets", "buffer", "ready", "request", "stale", "label")

    def __init__(self, params, dtype, index):
        self.params = params
        self.label = f"DistributedDataParallel bucket {index}"
        self.offsets = np.cumsum([0] + [param._data.size for param in params]).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=dtype)
        self.reset()

    def reset(self):
        self.ready = [False] * len(self.params)
        self.request = None
        self.stale = False  # a gradient changed after the bucket was sent (parameter used twice)


def _flat_broadcast(arrays, backend, src, label):
    """Overwrite every array with rank ``src``'s values: one broadcast per dtype."""
    by_dtype = {}
    for array in arrays:
        by_dtype.setdefault(array.dtype, []).append(array)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([array.reshape(-1) for array in group]).astype(dtype, copy=False)
        backend.broadcast(flat, src, label=label)
        offset = 0
        for array in group:
            array[...] = flat[offset:offset + array.size].reshape(array.shape)
            offset += array.size


def _model_entries(module):
    """Every parameter and buffer in registration order: kind, name, shape, dtype, trainable."""
    entries = [["parameter", name, list(param._data.shape), param._data.dtype.name,
                bool(param.requires_grad)] for name, param in module.named_parameters()]
    entries += [["buffer", name, list(buffer._data.shape), buffer._data.dtype.name, False]
                for name, buffer in module.named_buffers()]
    return entries


def _describe_entry(entry):
    kind, name, shape, dtype, trainable = entry
    frozen = "" if trainable or kind == "buffer" else " (requires_grad=False)"
    return f"{kind} '{name}' {dtype} {shape}{frozen}"


def _model_difference(entries, reference):
    """How ``entries`` (one rank's model) first differs from ``reference`` (rank 0's)."""
    for kind in ("parameter", "buffer"):
        count = sum(entry[0] == kind for entry in entries)
        reference_count = sum(entry[0] == kind for entry in reference)
        if count != reference_count:
            return f"has {count} {kind}s, while rank 0 has {reference_count}"
    for index, (entry, expected) in enumerate(zip(entries, reference)):
        if entry != expected:
            return (f"has {_describe_entry(entry)} at position {index}, where rank 0 has "
                    f"{_describe_entry(expected)}")
    return "differs from rank 0"


def _allgather_bytes(backend, data, label):
    """Every rank's ``data`` (bytes of any length), in rank order: two small all-gathers."""
    lengths = backend.allgather(np.array([len(data)], dtype=np.int64), label=label)
    padded = np.zeros(int(lengths.max()), dtype=np.uint8)
    padded[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    gathered = backend.allgather(padded, label=label)
    return [row[:int(length)].tobytes() for row, length in zip(gathered, lengths[:, 0])]


def _verify_model_across_ranks(module, backend):
    """Every rank must hold the same parameters and buffers (names, shapes, dtypes, order): one
    all-gather of a digest; only when it differs, a second exchange finds what differs."""
    label = "DistributedDataParallel model check"
    description = json.dumps(_model_entries(module)).encode("utf-8")
    digest = np.frombuffer(hashlib.sha256(description).digest(), dtype=np.int64)
    digests = backend.allgather(digest, label=label)
    if (digests == digests[0]).all():
        return
    models = [json.loads(data) for data in _allgather_bytes(backend, description, label)]
    differences = [f"rank {rank} {_model_difference(entries, models[0])}"
                   for rank, entries in enumerate(models) if entries != models[0]]
    raise RuntimeError("DDP expects same model across all ranks, but " + "; ".join(differences)
                       + ". Build the same model on every rank, registering its parameters and "
                       "buffers in the same order.")


class _WeakHook:
    """The parameters' hook; holds the wrapper weakly so a dropped wrapper stops syncing."""

    def __init__(self, owner):
        self._owner = weakref.ref(owner)

    def __call__(self, param):
        owner = self._owner()
        if owner is not None:
            owner._on_grad_ready(param)


class DistributedDataParallel(Module, Joinable):
    """Wrap ``module`` so that ``loss.backward()`` leaves every rank with the gradient averaged
    over all ranks (``torch.nn.parallel.DistributedDataParallel``).

    Construction checks that every rank holds the same parameters and buffers (names, shapes,
    dtypes, order), then ranks start from rank 0's values; with ``broadcast_buffers`` rank 0's
    buffers are also sent before every forward. Use ``no_sync()`` around forward and backward to
    accumulate gradients locally, and ``join()`` around the training loop when ranks may run
    different numbers of iterations.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False):
        super().__init__()
        Joinable.__init__(self)
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an ember.nn.Module, got "
                            f"{type(module).__name__}")
        backend = comm._require_backend("DistributedDataParallel", process_group)
        params = [param for param in module.parameters() if param.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if bucket_cap_mb <= 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        if backend.world_size > 1:
            _verify_model_across_ranks(module, backend)
            if init_sync:
                state = [param._data for param in module.parameters()]
                state += [buffer._data for buffer in module.buffers()]
                _flat_broadcast(state, backend, 0, "DistributedDataParallel initial state")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.bucket_cap_mb = bucket_cap_mb
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self._backend = backend
        self._world_size = backend.world_size
        self._overlap = True  # start each bucket's all-reduce during backward (off: at the end)
        self._armed = False  # the last forward asked for the next backward to be synchronised
        self._step_started = False
        self._next_bucket = 0
        self._divide_by_initial_world_size = True
        self._active_ranks_work = None  # under join(): how many ranks run this iteration
        self._divisor = self._world_size
        self._buckets = self._make_buckets(params, bucket_cap_mb * 2 ** 20)
        self._location = {}
        for bucket in self._buckets:
            for index, param in enumerate(bucket.params):
                self._location[id(param)] = (bucket, index)
        hook = _WeakHook(self)
        self._hook_handles = [param.register_post_accumulate_grad_hook(hook) for param in params]

    @staticmethod
    def _make_buckets(params, cap_bytes):
        """Reverse registration order; the first bucket is capped at 1 MiB (as in PyTorch) so the
        first all-reduce can start early in backward."""
        buckets = []
        current = []
        current_bytes = 0
        for param in reversed(params):
            size = param._data.nbytes
            cap = min(cap_bytes, _FIRST_BUCKET_BYTES) if not buckets else cap_bytes
            if current and (current_bytes + size > cap
                            or param._data.dtype != current[0]._data.dtype):
                buckets.append(_Bucket(current, current[0]._data.dtype, len(buckets)))
                current = []
                current_bytes = 0
            current.append(param)
            current_bytes += size
        buckets.append(_Bucket(current, current[0]._data.dtype, len(buckets)))
        return buckets

    # ---- forward -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        self._finish_pending()
        armed = (self.require_backward_grad_sync and self._world_size > 1
                 and is_grad_enabled())
        self._divisor = self._world_size
        self._active_ranks_work = None
        if self._world_size > 1:
            work = Join.notify_join_context(self)
            if work is not None and not self._divide_by_initial_world_size:
                self._active_ranks_work = work
            self._sync_buffers(joined=False)
            if self._join_config.enable:
                self._check_global_requires_backward_grad_sync(armed, joined=False)
        self._armed = armed
        return self.module(*args, **kwargs)

    def _sync_buffers(self, joined):
        """Broadcast the buffers before a forward: from rank 0, or under ``join()`` from the
        highest rank still training (rank 0 may have joined with stale buffers)."""
        if not self.broadcast_buffers:
            return
        buffers = [buffer._data for buffer in self.module.buffers()]
        if not buffers:
            return
        source = 0
        if self._join_config.enable:
            source = self._find_common_rank(not joined)
        _flat_broadcast(buffers, self._backend, source, "DistributedDataParallel buffers")

    def _find_common_rank(self, candidate):
        """The highest rank for which ``candidate`` is True on that rank."""
        rank = np.array([self._backend.rank if candidate else -1], dtype=np.int64)
        self._backend.allreduce(rank, ReduceOp.MAX, label="DistributedDataParallel source rank")
        return int(rank[0])

    def _check_global_requires_backward_grad_sync(self, armed, joined):
        """Under ``join()``: whether any rank still training synchronises its next backward
        (joined ranks then shadow its all-reduces)."""
        flag = Tensor._wrap(np.array([1.0 if armed and not joined else 0.0], dtype=np.float32))
        if not joined:
            comm.all_reduce(flag, async_op=True)
            return None
        comm.all_reduce(flag)
        return bool(flag._data[0])

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally for the forward/backward passes run inside."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ---- uneven inputs -------------------------------------------------------------------------
    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """Context manager around a training loop whose ranks may run different numbers of
        iterations (PyTorch's ``DistributedDataParallel.join``).

        A rank that runs out of inputs shadows the collectives of the ranks still training
        (zero gradients in their all-reduces) until all have finished; then every rank takes the
        model of the last rank to finish. Gradients are divided by the initial world size, or
        with ``divide_by_initial_world_size=False`` by the number of ranks still training. With
        ``throw_on_early_termination`` every rank raises RuntimeError as soon as one rank runs
        out (needed when the loop has other collectives, e.g. SyncBatchNorm). ``enable=False``
        turns it off.
        """
        return Join([self], enable, throw_on_early_termination,
                    divide_by_initial_world_size=divide_by_initial_world_size)

    def join_hook(self, **kwargs):
        """The hook that shadows this wrapper's collectives on a joined rank; takes
        ``divide_by_initial_world_size`` (default True)."""
        return _DDPJoinHook(self, kwargs.get("divide_by_initial_world_size", True))

    @property
    def join_device(self):
        return device("cpu")

    @property
    def join_process_group(self):
        return None

    def _match_all_reduce_for_bwd_pass(self):
        """A joined rank's side of one backward: a zero bucket for every bucket, in order."""
        requests = [self._backend.iallreduce(np.zeros_like(bucket.buffer), ReduceOp.SUM,
                                             label=bucket.label) for bucket in self._buckets]
        for request in requests:
            request.wait()

    def _match_unused_params_allreduce(self):
        unused = np.zeros(len(self._location), dtype=np.int32)
        self._backend.allreduce(unused, ReduceOp.MAX, label=_USED_LABEL)

    def _sync_final_model(self, is_last_joiner):
        """After ``join()``: every rank takes the parameters (and buffers) of the highest rank
        among those that finished last."""
        source = self._find_common_rank(is_last_joiner)
        state = [param._data for param in self.module.parameters()]
        if self.broadcast_buffers:
            state += [buffer._data for buffer in self.module.buffers()]
        _flat_broadcast(state, self._backend, source, "DistributedDataParallel final model")

    # ---- backward ------------------------------------------------------------------------------
    def _on_grad_ready(self, param):
        if not self._armed:
            return
        if not self._step_started:
            try:
                engine.queue_callback(self._finalize)
            except RuntimeError:
                raise RuntimeError("DistributedDataParallel: gradients must come from "
                                   "loss.backward() or ember.autograd.backward(loss) without "
                                   "inputs=") from None
            self._step_started = True
            for bucket in self._buckets:
                bucket.reset()
            self._next_bucket = 0
        bucket, index = self._location[id(param)]
        if bucket.ready[index]:
            if bucket.request is not None:
                bucket.stale = True
            return
        bucket.ready[index] = True
        if self._overlap:
            self._launch_ready_buckets()

    def _launch_ready_buckets(self):
        while self._next_bucket < len(self._buckets):
            bucket = self._buckets[self._next_bucket]
            if not all(bucket.ready):
                break
            self._launch(bucket)
            self._next_bucket += 1
        for bucket in self._buckets[:self._next_bucket]:
            if bucket.request is not None:
                bucket.request.test()  # lets MPI progress the transfers already in flight

    def _launch(self, bucket):
        buffer = bucket.buffer
        for param, start, end, ready in zip(bucket.params, bucket.offsets, bucket.offsets[1:],
                                             bucket.ready):
            if ready and param._grad is not None:
                buffer[start:end] = param._grad._data.reshape(-1)
            else:
                buffer[start:end] = 0
        if self._active_ranks_work is not None:
            self._divisor = int(self._active_ranks_work.result()[0]._data[0])
            self._active_ranks_work = None
        buffer *= buffer.dtype.type(1.0 / self._divisor)
        bucket.request = self._backend.iallreduce(buffer, ReduceOp.SUM, label=bucket.label)

    def _finalize(self):
        """End of backward: send what is left, wait, and write the averages into ``.grad``."""
        self._armed = False
        self._step_started = False
        while self._next_bucket < len(self._buckets):
            self._launch(self._buckets[self._next_bucket])
            self._next_bucket += 1
        for bucket in self._buckets:
            bucket.request.wait()
            if bucket.stale:
                bucket.request = None
                self._launch(bucket)
                bucket.request.wait()
        used = None
        if self.find_unused_parameters:
            used = np.array([flag for bucket in self._buckets for flag in bucket.ready],
                            dtype=np.int32)
            self._backend.allreduce(used, ReduceOp.MAX, label=_USED_LABEL)
        position = 0
        for bucket in self._buckets:
            for param, start, end in zip(bucket.params, bucket.offsets, bucket.offsets[1:]):
                globally_used = used is None or used[position]
                position += 1
                if globally_used:
                    self._write_grad(param, bucket.buffer[start:end])
            bucket.request = None

    @staticmethod
    def _write_grad(param, flat):
        averaged = flat.reshape(param._data.shape)
        grad = param._grad
        if grad is None:
            param._grad = Tensor._wrap(averaged.copy())
        elif grad._data.flags.writeable and grad._data.shape == averaged.shape:
            grad._data[...] = averaged
        else:
            grad._data = averaged.copy()

    def _finish_pending(self):
        """A backward that raised may have left all-reduces in flight; finish them first."""
        if self._step_started:
            self._step_started = False
            while self._next_bucket < len(self._buckets):
                self._launch(self._buckets[self._next_bucket])
                self._next_bucket += 1
            for bucket in self._buckets:
                if bucket.request is not None:
                    bucket.request.wait()
                    bucket.request = None


class _DDPJoinHook(JoinHook):
    """A joined rank's side of DistributedDataParallel's iterations under ``join()``."""

    def __init__(self, ddp, divide_by_initial_world_size):
        if not isinstance(ddp, DistributedDataParallel):
            raise AssertionError(f"DDP join hook requires passing in a DistributedDataParallel "
                                 f"instance as the state, got {type(ddp).__name__}")
        self.ddp = ddp
        ddp._divide_by_initial_world_size = divide_by_initial_world_size

    def main_hook(self):
        """Match one forward (buffer broadcast, sync flag) and, if synchronised, its backward."""
        ddp = self.ddp
        ddp._sync_buffers(joined=True)
        if not ddp._check_global_requires_backward_grad_sync(False, joined=True):
            return
        ddp._match_all_reduce_for_bwd_pass()
        if ddp.find_unused_parameters:
            ddp._match_unused_params_allreduce()

    def post_hook(self, is_last_joiner):
        self.ddp._sync_final_model(is_last_joiner)
