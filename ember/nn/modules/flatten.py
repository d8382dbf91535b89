"""Flatten and Unflatten: reshape a range of dimensions as a layer."""
from ..functional._conv import check_tensors
from .module import Module


class Flatten(Module):
    """Flatten dimensions start_dim..end_dim into one (by default all but the batch dimension)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        check_tensors("Flatten", AttributeError, input=input)  # PyTorch calls input.flatten
        if input.dim() == 0:
            # A 0-d tensor has dims -1 and 0 only (as PyTorch's dim wrapping has it).
            for dim in (self.start_dim, self.end_dim):
                if dim not in (-1, 0):
                    raise IndexError(f"Dimension out of range (expected to be in range of "
                                     f"[-1, 0], but got {dim})")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int):
            raise TypeError("invalid argument type for dim parameter")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for position, size in enumerate(unflattened_size):
            if not isinstance(size, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of "
                                f"type {type(size).__name__} at pos {position}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
