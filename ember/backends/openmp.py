"""``torch.backends.openmp``: ember threads with a pool of its own (see ember.set_num_threads)."""


def is_available():
    return False
