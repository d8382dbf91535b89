"""The MPI engine's signatures and messages, without MPI (the engine imports mpi4py only when it
is constructed); its behaviour across ranks is tested in tests/reliability/test_mpi_faults.py."""
import numpy as np

from ember.distributed import ReduceOp, _mpi


def test_signatures_describe_the_collective():
    matrix = np.ones((2, 3), dtype=np.float32)
    assert _mpi.describe(_mpi._signature(_mpi.ALL_REDUCE, matrix, ReduceOp.MAX)) == \
        "all_reduce(MAX) of float32 [2, 3]"
    vector = np.zeros(4, dtype=np.int64)
    assert _mpi.describe(_mpi._signature(_mpi.BROADCAST, vector, root=1, label="buffers")) == \
        "broadcast of int64 [4] from rank 1 (buffers)"
    assert _mpi.describe(_mpi._signature(_mpi.BARRIER)) == "barrier"
    scalar = np.zeros((), dtype=np.float64)
    assert _mpi.describe(_mpi._signature(_mpi.ALL_GATHER, scalar)) == "all_gather of float64 []"
    deep = np.zeros((1,) * 9 + (2,), dtype=np.bool_)
    assert _mpi.describe(_mpi._signature(_mpi.ALL_GATHER, deep)) == \
        "all_gather of bool (10 dimensions, 2 elements)"


def test_labels_are_cut_at_64_bytes_on_a_character_boundary():
    label = "a" + "é" * 40  # 81 bytes of UTF-8: byte 64 is the first half of an "é"
    text = _mpi.describe(_mpi._signature(_mpi.BARRIER, label=label))
    assert text == f"barrier (a{'é' * 31})"


def test_labels_and_values_are_not_compared_but_shapes_dtypes_roots_and_tags_are():
    def compared(*args, **kwargs):
        return _mpi._signature(*args, **kwargs)[:_mpi._COMPARED].tolist()

    array = np.ones(3, dtype=np.float32)
    base = compared(_mpi.ALL_REDUCE, array, ReduceOp.SUM, label="a")
    assert compared(_mpi.ALL_REDUCE, array * 7, ReduceOp.SUM, label="b") == base
    for other in (compared(_mpi.ALL_REDUCE, array.reshape(3, 1), ReduceOp.SUM),
                  compared(_mpi.ALL_REDUCE, array.astype(np.float64), ReduceOp.SUM),
                  compared(_mpi.ALL_REDUCE, array, ReduceOp.MAX),
                  compared(_mpi.ALL_REDUCE, array, ReduceOp.SUM, tag=1),
                  compared(_mpi.BROADCAST, array, root=0)):
        assert other != base


def test_mismatch_message_groups_the_ranks():
    agreed = _mpi._signature(_mpi.ALL_REDUCE, np.ones(2, dtype=np.float32), ReduceOp.SUM)
    other = _mpi._signature(_mpi.BARRIER)
    message = _mpi._mismatch_message(np.stack([agreed, other, agreed]), 5)
    assert message == ("Detected mismatch between collectives on ranks (collective #5): ranks 0, "
                       "2 are running all_reduce(SUM) of float32 [2], but rank 1 is running "
                       "barrier. Every rank must call the same collectives in the same order, "
                       "with the same shapes and dtypes.")
