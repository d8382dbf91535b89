"""ember.fft: torch.fft's discrete Fourier transforms (complex, one-sided real and Hermitian;
1-D, 2-D and n-D, with the three normalisation modes), their frequencies and shifts, all
differentiable."""
from ._tensor_methods import numpy_names as _numpy_names
from .ops.spectral import (  # noqa: F401
    fft, fft2, fftfreq, fftn, fftshift, hfft, hfft2, hfftn, ifft, ifft2, ifftn, ifftshift, ihfft,
    ihfft2, ihfftn, irfft, irfft2, irfftn, rfft, rfft2, rfftfreq, rfftn)
from .ops.spectral import __all__  # noqa: F401


def _taking_numpy_names():
    """axis=/keepdims= for dim=/keepdim=, as PyTorch's fft functions take them."""
    for name in __all__:
        if name in globals():  # (ops.spectral's __all__ also lists stft and istft)
            globals()[name] = _numpy_names(globals()[name])


_taking_numpy_names()
