"""``torch.backends.openmp``: ember's parallelism is its BLAS's own (see ember.set_num_threads)."""


def is_available():
    return False
