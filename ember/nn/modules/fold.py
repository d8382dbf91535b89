"""Unfold and Fold: sliding local blocks to columns and back."""
from .. import functional as F
from .module import Module


class _SlidingBlocks(Module):
    """The block options Fold and Unfold share (Unfold's constructor), stored and printed alike."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(_SlidingBlocks):
    """Sum columns (N, C * kh * kw, L) into an (N, C, *output_size) image."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, {super().extra_repr()}"


class Unfold(_SlidingBlocks):
    """Every kernel window of an (N, C, H, W) input as a column of (N, C * kh * kw, L)."""

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)
