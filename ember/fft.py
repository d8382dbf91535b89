"""ember.fft: torch.fft's discrete Fourier transforms (complex, one-sided real and Hermitian;
1-D, 2-D and n-D, with the three normalisation modes), their frequencies and shifts, all
differentiable."""
from .ops.spectral import (  # noqa: F401
    fft, fft2, fftfreq, fftn, fftshift, hfft, hfft2, hfftn, ifft, ifft2, ifftn, ifftshift, ihfft,
    ihfft2, ihfftn, irfft, irfft2, irfftn, rfft, rfft2, rfftfreq, rfftn)
from .ops.spectral import __all__  # noqa: F401
