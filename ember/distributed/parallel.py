"""DistributedDataParallel: a model replica per rank, gradients averaged in buckets during backward.

Each rank runs forward and backward on its shard of the batch. Parameters are grouped, in reverse
registration order (roughly the order backward produces their gradients), into buckets of at most
``bucket_cap_mb``. When every gradient of a bucket has been accumulated, its gradients are copied
into one flat array and a non-blocking all-reduce starts, so communication overlaps the rest of
backward; buckets start strictly in order so every rank issues the same sequence of collectives.
A callback queued on the backward pass waits for them and writes the averages back to ``.grad``.
"""
import contextlib
import weakref

import numpy as np

from ..autograd import engine
from ..autograd.grad_mode import is_grad_enabled
from ..nn.modules.module import Module
from ..tensor import Tensor
from . import comm
from .comm import ReduceOp


_FIRST_BUCKET_BYTES = 2 ** 20


class _Bucket:
    """Flat gradient storage for a run of same-dtype parameters, and its state for one backward."""

    __slots__ = ("params", "offsets", "buffer", "ready", "request", "stale")

    def __init__(self, params, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [param._data.size for param in params]).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=dtype)
        self.reset()

    def reset(self):
        self.ready = [False] * len(self.params)
        self.request = None
        self.stale = False  # a gradient changed after the bucket was sent (parameter used twice)


def _flat_broadcast(arrays, backend):
    """Overwrite every array with rank 0's values: one broadcast per dtype."""
    by_dtype = {}
    for array in arrays:
        by_dtype.setdefault(array.dtype, []).append(array)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([array.reshape(-1) for array in group]).astype(dtype, copy=False)
        backend.broadcast(flat, 0)
        offset = 0
        for array in group:
            array[...] = flat[offset:offset + array.size].reshape(array.shape)
            offset += array.size


class _WeakHook:
    """The parameters' hook; holds the wrapper weakly so a dropped wrapper stops syncing."""

    def __init__(self, owner):
        self._owner = weakref.ref(owner)

    def __call__(self, param):
        owner = self._owner()
        if owner is not None:
            owner._on_grad_ready(param)


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``loss.backward()`` leaves every rank with the gradient averaged
    over all ranks (``torch.nn.parallel.DistributedDataParallel``).

    Ranks start from rank 0's parameters and buffers; with ``broadcast_buffers`` rank 0's buffers
    are also sent before every forward. Use ``no_sync()`` around forward and backward to accumulate
    gradients locally; the next synchronised backward averages the accumulated sum.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False):
        super().__init__()
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
        self._buckets = self._make_buckets(params, bucket_cap_mb * 2 ** 20)
        self._location = {}
        for bucket in self._buckets:
            for index, param in enumerate(bucket.params):
                self._location[id(param)] = (bucket, index)
        hook = _WeakHook(self)
        self._hook_handles = [param.register_post_accumulate_grad_hook(hook) for param in params]
        if self._world_size > 1:
            self._check_same_shapes(module)
            if init_sync:
                state = [param._data for param in module.parameters()]
                state += [buffer._data for buffer in module.buffers()]
                _flat_broadcast(state, backend)

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
                buckets.append(_Bucket(current, current[0]._data.dtype))
                current = []
                current_bytes = 0
            current.append(param)
            current_bytes += size
        buckets.append(_Bucket(current, current[0]._data.dtype))
        return buckets

    def _check_same_shapes(self, module):
        """Every rank must hold the same architecture; the gathered summary says so on all ranks."""
        shapes = [tuple(param._data.shape) for param in module.parameters()]
        summary = np.array([len(shapes), sum(int(np.prod(shape)) for shape in shapes),
                            hash(tuple(shapes)) % (2 ** 31)], dtype=np.int64)
        gathered = self._backend.allgather(summary)
        if not (gathered == gathered[0]).all():
            raise RuntimeError(f"DistributedDataParallel: the ranks' modules differ (parameter "
                               f"count, elements, shape hash per rank: {gathered.tolist()})")

    # ---- forward -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        self._finish_pending()
        if self.broadcast_buffers and self._world_size > 1:
            buffers = [buffer._data for buffer in self.module.buffers()]
            if buffers:
                _flat_broadcast(buffers, self._backend)
        self._armed = (self.require_backward_grad_sync and self._world_size > 1
                       and is_grad_enabled())
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally for the forward/backward passes run inside."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

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
        buffer *= buffer.dtype.type(1.0 / self._world_size)
        bucket.request = self._backend.iallreduce(buffer, ReduceOp.SUM)

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
            self._backend.allreduce(used, ReduceOp.MAX)
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
