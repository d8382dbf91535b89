"""``torch.__config__``: the build description that libraries search for features
(PyTorch Geometric reads ``'USE_MKL=OFF' in show()``). ember runs on NumPy: no CUDA, MKL or
OpenMP build, as ``ember.backends`` answers too."""
import os

import numpy as np

from . import _threads

__all__ = ["parallel_info", "show"]


def show():
    """What ember is built with, in PyTorch's layout (its flags say OFF for what ember lacks)."""
    return ("PyTorch built with:\n"
            f"  - ember on NumPy {np.__version__}\n"
            "  - Build settings: BLAS_INFO=numpy, BUILD_TYPE=Release, USE_CUDA=0, "
            "USE_CUDNN=OFF, USE_MKL=OFF, USE_MKLDNN=OFF, USE_NNPACK=OFF, USE_OPENMP=OFF, "
            "USE_ROCM=OFF, USE_XPU=OFF, \n")


def parallel_info():
    """The thread settings, in PyTorch's layout."""
    threads = _threads.get_num_threads()
    variables = "".join(f"\t{name} : {os.environ.get(name, '[not set]')}\n"
                        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))
    return ("ATen/Parallel:\n"
            f"\tat::get_num_threads() : {threads}\n"
            f"std::thread::hardware_concurrency() : {os.cpu_count()}\n"
            f"Environment variables:\n{variables}"
            "ATen parallel backend: ember threads over NumPy\n")
