"""The tuples with named fields that ops return, like ``torch.return_types``: ``max(dim=...)``'s
``(values, indices)``, ``aminmax``'s ``(min, max)`` and the like. Each is named as PyTorch's
and prints as it does, ``torch.return_types.topk(values=..., indices=...)`` one field a line."""
from operator import itemgetter

from .._dtype import repr_prefix

_RETURN_TYPES = {}


def _return_type(name, doc, *fields):
    """A tuple subclass, PyTorch's ``return_types.<name>``, whose ``fields`` name its items."""
    namespace = {"__doc__": doc, "__module__": __name__, "_field_names": fields,
                 "__repr__": _repr, "__reduce__": _reduce}
    for position, field in enumerate(fields):
        namespace[field] = property(itemgetter(position))
    result_type = type(name, (tuple,), namespace)
    _RETURN_TYPES[name] = result_type
    return result_type


def _repr(result):
    items = ",\n".join(f"{field}={value!r}" for field, value in zip(result._field_names, result))
    return f"{repr_prefix()}.return_types.{type(result).__name__}(\n{items})"


def _reduce(result):
    # The classes are not module globals under their own names (several would hide builtins:
    # max, min), so pickle finds them by name through _rebuild.
    return _rebuild, (type(result).__name__, tuple(result))


def _rebuild(name, items):
    return _RETURN_TYPES[name](items)


def _values_indices(name):
    return _return_type(name, f"(values, indices), like torch.return_types.{name}.", "values",
                        "indices")


_VALUES_INDICES = {name: _values_indices(name) for name in (
    "max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax",
    "cummin")}
_MinMax = _return_type("aminmax", "(min, max), like torch.return_types.aminmax.", "min", "max")
_Frexp = _return_type("frexp", "(mantissa, exponent), like torch.return_types.frexp.",
                      "mantissa", "exponent")
_SignLogAbsDet = _return_type("slogdet", "(sign, logabsdet), like torch.return_types.slogdet.",
                              "sign", "logabsdet")
_LinalgSignLogAbsDet = _return_type("linalg_slogdet", "(sign, logabsdet), like "
                                    "torch.return_types.linalg_slogdet.", "sign", "logabsdet")
_EighResult = _return_type("linalg_eigh", "(eigenvalues, eigenvectors), like "
                           "torch.return_types.linalg_eigh.", "eigenvalues", "eigenvectors")
_EigResult = _return_type("linalg_eig", "(eigenvalues, eigenvectors), like "
                          "torch.return_types.linalg_eig.", "eigenvalues", "eigenvectors")
_Histogram = _return_type("histogram", "(hist, bin_edges), like torch.return_types.histogram.",
                          "hist", "bin_edges")
_HistogramDD = _return_type("histogramdd", "(hist, bin_edges), like "
                            "torch.return_types.histogramdd.", "hist", "bin_edges")
