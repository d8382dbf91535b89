"""Python's and NumPy's global random streams, one per DataLoader worker thread.

PyTorch's workers are processes: each seeds Python's ``random`` with ``base_seed + worker_id``
and NumPy's global generator with a SeedSequence of ``base_seed`` and the worker id, its draws
never reach the main process, and a ``worker_init_fn`` may reseed them (the reproducibility
recipe's ``seed_worker``). ember's workers are threads, which share those module-level streams.
So once a worker starts, the module-level functions of ``random`` and ``numpy.random`` draw, in
a worker thread, from that worker's own ``random.Random`` and ``numpy.random.RandomState``, and
elsewhere from the usual global ones. A function imported by name before the first worker
started (``from numpy.random import rand``) keeps drawing from the global stream.
"""
import functools
import random
import threading

import numpy as np

_MASK32 = 0xFFFF_FFFF
_local = threading.local()  # .streams: (random.Random, numpy RandomState) in a worker thread
_install_lock = threading.Lock()
_installed = []

# numpy.random's module functions that are not methods of its global RandomState, and the
# RandomState method each stands for
_NUMPY_FUNCTIONS = {"seed": "seed", "ranf": "random_sample", "sample": "random_sample"}


def worker_streams(base_seed, worker_id):
    """The Python and NumPy generators of worker ``worker_id``, seeded as PyTorch seeds them in
    its worker processes (``base_seed`` is the pass's shared seed, a non-negative int64)."""
    python = random.Random(base_seed + worker_id)
    words = np.random.SeedSequence([worker_id, base_seed & _MASK32, base_seed >> 32, 0])
    return python, np.random.RandomState(words.generate_state(4))


def enter(streams):
    """Draw from ``streams`` in the calling (worker) thread from now on."""
    _install()
    _local.streams = streams


def _install():
    with _install_lock:
        if _installed:
            return
        _installed.append(True)
        python_global = random._inst
        for name in dir(random):
            function = getattr(random, name)
            if getattr(function, "__self__", None) is python_global:
                setattr(random, name, _dispatcher(function, 0, name))
        numpy_global = np.random.mtrand._rand
        for name in dir(np.random):
            function = getattr(np.random, name)
            if getattr(function, "__self__", None) is numpy_global:
                setattr(np.random, name, _dispatcher(function, 1, name))
        for name, method in _NUMPY_FUNCTIONS.items():
            setattr(np.random, name, _dispatcher(getattr(np.random, name), 1, method))


def _dispatcher(function, which, method):
    """``function`` outside worker threads; in one, the worker's own generator's ``method``."""
    @functools.wraps(function)
    def dispatch(*args, **kwargs):
        streams = getattr(_local, "streams", None)
        if streams is None:
            return function(*args, **kwargs)
        return getattr(streams[which], method)(*args, **kwargs)
    return dispatch
