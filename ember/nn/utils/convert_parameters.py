"""Flatten parameters into one vector and copy a vector back into them."""
from ... import ops
from ..._dtype import repr_prefix
from ...tensor import Tensor, named_type

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Concatenate the flattened parameters into one (differentiable) vector."""
    pieces = [parameter.reshape(-1) for parameter in parameters]
    return ops.cat(pieces)


def vector_to_parameters(vec, parameters):
    """Give each parameter its slice of ``vec`` as new data (sharing ``vec``'s storage)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected {repr_prefix()}.Tensor, but got: {named_type(vec)}")
    pointer = 0
    for parameter in parameters:
        count = parameter.numel()
        if pointer + count > vec.numel():
            raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements, "
                               f"fewer than the parameters need")
        parameter.data = vec.data[pointer:pointer + count].view(parameter.shape)
        pointer += count
