"""The tuples with named fields that ops return, like ``torch.return_types``: ``max(dim=...)``'s
``(values, indices)``, ``aminmax``'s ``(min, max)`` and the like."""
from operator import itemgetter


def _return_type(name, doc, *fields):
    """A tuple subclass whose ``fields`` name its items, in order."""
    namespace = {"__doc__": doc, "__module__": __name__}
    for position, field in enumerate(fields):
        namespace[field] = property(itemgetter(position))
    return type(name, (tuple,), namespace)


_ReturnTypes = _return_type("_ReturnTypes", "(values, indices), like torch.return_types.max.",
                            "values", "indices")
_MinMax = _return_type("_MinMax", "(min, max), like torch.return_types.aminmax.", "min", "max")
_Frexp = _return_type("_Frexp", "(mantissa, exponent), like torch.return_types.frexp.",
                      "mantissa", "exponent")
_SignLogAbsDet = _return_type("_SignLogAbsDet", "(sign, logabsdet), like "
                              "torch.return_types.slogdet.", "sign", "logabsdet")
_EighResult = _return_type("_EighResult", "(eigenvalues, eigenvectors), like "
                           "torch.return_types.linalg_eigh.", "eigenvalues", "eigenvectors")
_EigResult = _return_type("_EigResult", "(eigenvalues, eigenvectors), like "
                          "torch.return_types.linalg_eig.", "eigenvalues", "eigenvectors")
_Histogram = _return_type("_Histogram", "(hist, bin_edges), like torch.return_types.histogram.",
                          "hist", "bin_edges")
