"""``torch.backends`` on a CPU-only build: which backends exist (none of CUDA's, cuDNN's, MPS's)
and their flags, settable and readable as in PyTorch so that scripts which set them run
unchanged. ember's kernels are NumPy's on the CPU: the flags change no result."""
from . import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp, opt_einsum, quantized  # noqa: F401
