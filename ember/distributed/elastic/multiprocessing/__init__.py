"""``torch.distributed.elastic.multiprocessing``: the ``errors`` module of ``@record``."""
