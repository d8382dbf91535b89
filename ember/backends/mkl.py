"""``torch.backends.mkl``: ember computes with NumPy's BLAS, not through MKL's interface."""


def is_available():
    return False
