"""The device and CUDA shims: ember.device, ember.cuda, CPU-only Tensor.to/Module.to/cuda, and the
thread-count setting."""
import pytest

import ember
from ember import nn


def test_device_parses_type_and_index_like_torch(torch):
    for arguments in (("cpu",), ("cuda",), ("cuda:1",), ("cuda", 1), ("cpu", 0), ("mps",)):
        ours = ember.device(*arguments)
        theirs = torch.device(*arguments)
        assert (ours.type, ours.index) == (theirs.type, theirs.index)
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)


def test_device_equality_hash_and_copy():
    assert ember.device("cpu") == ember.device("cpu")
    assert ember.device("cpu") != ember.device("cpu", 0)
    assert ember.device("cuda:0") == ember.device("cuda", 0)
    assert ember.device(ember.device("cuda:1")) == ember.device("cuda:1")
    assert len({ember.device("cpu"), ember.device("cpu"), ember.device("cuda")}) == 2
    # As torch: a device never equals a string, even its own form.
    assert ember.device("cpu") != "cpu" and not ember.device("cpu") == "cpu"
    assert not "cuda:1" == ember.device("cuda:1")
    assert ember.device("cpu") != "not a device"


@pytest.mark.parametrize("arguments, error", [
    (("gpu",), RuntimeError), (("cuda:x",), RuntimeError), (("cuda:0", 1), RuntimeError),
    ((3.5,), TypeError), ((0,), RuntimeError)])
def test_device_bad_arguments_raise_torch_types(arguments, error, torch):
    with pytest.raises(error):
        torch.device(*arguments)
    with pytest.raises(error):
        ember.device(*arguments)


def test_tensor_device_is_a_cpu_device():
    tensor = ember.ones(2)
    assert isinstance(tensor.device, ember.device)
    assert tensor.device.type == "cpu"
    assert tensor.device == ember.device("cpu") and tensor.device != "cpu"
    assert str(tensor.device) == "cpu"


def test_tensor_to_cpu_device_or_string_keeps_the_tensor():
    tensor = ember.ones(2)
    assert tensor.to(ember.device("cpu")) is tensor
    assert tensor.to("cpu") is tensor
    assert tensor.to(device="cpu") is tensor
    assert tensor.to(ember.device("cpu"), ember.float64).dtype is ember.float64
    assert tensor.cpu() is tensor


def test_cuda_is_refused_with_a_clear_error():
    tensor = ember.ones(2)
    for call in (lambda: tensor.cuda(), lambda: tensor.to("cuda"),
                 lambda: tensor.to(ember.device("cuda", 0)), lambda: tensor.to(device="cuda:0"),
                 lambda: ember.zeros(2, device=ember.device("cuda"))):
        with pytest.raises(RuntimeError, match="CPU only"):
            call()


def test_module_to_device():
    model = nn.Linear(3, 2)
    assert model.to(ember.device("cpu")) is model
    assert model.to("cpu") is model
    device = ember.device("cuda" if ember.cuda.is_available() else "cpu")
    assert model.to(device) is model
    assert model(ember.ones(1, 3).to(device)).shape == (1, 2)
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to(ember.device("cuda"))
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda:1")


@pytest.mark.parametrize("call", [
    lambda fw: fw.nn.MSELoss().cuda(), lambda fw: fw.nn.ReLU().to("cuda"),
    lambda fw: fw.nn.Sequential(fw.nn.Dropout(), fw.nn.Flatten()).to("cuda:1", fw.float64),
    lambda fw: fw.nn.CrossEntropyLoss().cuda(0)])
def test_modules_without_tensors_move_to_cuda_as_in_cpu_torch(torch, call):
    """PyTorch moves each parameter and buffer, so a module without any (a loss) answers
    ``.cuda()`` with itself even where CUDA is missing; scripts do ``criterion.cuda()``."""
    theirs = call(torch)
    ours = call(ember)
    assert type(ours).__name__ == type(theirs).__name__
    with pytest.raises(RuntimeError):
        nn.Sequential(nn.ReLU(), nn.BatchNorm1d(2)).cuda()
    with pytest.raises(RuntimeError):
        nn.ReLU().to("nonsense")


@pytest.mark.parametrize("name", ["FloatTensor", "LongTensor", "HalfTensor", "BoolTensor"])
def test_cuda_tensor_types_refuse_construction_as_cpu_torch(torch, name):
    """ClusterGAN's ``Tensor = torch.cuda.FloatTensor``: the attribute exists, calling it raises
    PyTorch's TypeError, and no tensor is an instance; x.type(it) refuses CUDA."""
    from tests.conftest import assert_raises_like_torch
    assert_raises_like_torch(lambda: getattr(torch.cuda, name)(2),
                             lambda: getattr(ember.cuda, name)(2), TypeError, same_type=True)
    assert not isinstance(ember.ones(1), getattr(ember.cuda, name))
    assert not isinstance(torch.ones(1), getattr(torch.cuda, name))
    with pytest.raises(RuntimeError):
        ember.ones(2).type(getattr(ember.cuda, name))


@pytest.mark.parametrize("call", [
    lambda fw: fw.ones(1).cuda(), lambda fw: fw.nn.Linear(1, 1).cuda(),
    lambda fw: fw.zeros(1, device="cuda"), lambda fw: fw.ones(1).to("cuda:0"),
    lambda fw: fw.nn.Linear(1, 1).to("cuda"), lambda fw: fw.cuda.current_device(),
    lambda fw: fw.cuda.synchronize()])
def test_cuda_requests_raise_an_assertion_error_as_cpu_torch(torch, call):
    """CPU-only PyTorch asserts ("Torch not compiled with CUDA enabled"); scripts catch
    AssertionError to fall back to the CPU. ember's error is that and a RuntimeError."""
    with pytest.raises(AssertionError):
        call(torch)
    with pytest.raises(AssertionError) as ours:
        call(ember)
    assert isinstance(ours.value, RuntimeError) and "CPU only" in str(ours.value)


def test_cuda_module_answers_as_torch_without_a_gpu():
    assert ember.cuda.is_available() is False
    assert ember.cuda.device_count() == 0
    assert ember.cuda.manual_seed(3) is None
    assert ember.cuda.manual_seed_all(3) is None
    with pytest.raises(RuntimeError):
        ember.cuda.current_device()


def test_num_threads_round_trip_and_errors():
    original = ember.get_num_threads()
    assert isinstance(original, int) and original >= 1
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
    finally:
        ember.set_num_threads(original)
    assert ember.get_num_threads() == original
    with pytest.raises(RuntimeError, match="positive"):
        ember.set_num_threads(0)
    with pytest.raises(RuntimeError, match="int"):
        ember.set_num_threads(2.5)


# What a CPU-only PyTorch answers for the device queries scripts make unconditionally (saving
# RNG states, printing memory, seeding): the same values, and a failure where PyTorch fails.
_CPU_ANSWERS = {
    "get_rng_state_all": lambda L: L.cuda.get_rng_state_all(),
    "set_rng_state_all": lambda L: L.cuda.set_rng_state_all([]),
    "set_rng_state": lambda L: L.cuda.set_rng_state(L.ByteTensor(8)),
    "memory_reserved": lambda L: L.cuda.memory_reserved(),
    "stream None": lambda L: L.cuda.stream(None).__enter__(),
    "StreamContext None": lambda L: (type(L.cuda.stream(None)) is L.cuda.StreamContext,
                                     not L.cuda.StreamContext(None).__exit__(None, None, None)),
    "default_generators": lambda L: L.cuda.default_generators,
    "device -1": lambda L: L.cuda.device(-1).__enter__(),
    "mps": lambda L: (L.mps.is_available(), L.backends.mps.is_available()),
    "xpu": lambda L: (L.xpu.is_available(), L.xpu.device_count()),
    "oom": lambda L: (L.OutOfMemoryError is L.cuda.OutOfMemoryError,
                      issubclass(L.OutOfMemoryError, RuntimeError)),
}
_CPU_FAILURES = {
    "initial_seed": lambda L: L.cuda.initial_seed(),
    "get_rng_state": lambda L: L.cuda.get_rng_state(),
    "current_stream": lambda L: L.cuda.current_stream(),
    "Stream": lambda L: L.cuda.Stream(),
    "Event": lambda L: L.cuda.Event(enable_timing=True),
    "device 0": lambda L: L.cuda.device(0).__enter__(),
    "mem_get_info": lambda L: L.cuda.mem_get_info(),
    "CUDAGraph": lambda L: L.cuda.CUDAGraph(),
    "graph": lambda L: L.cuda.graph(None),
    "is_current_stream_capturing": lambda L: L.cuda.is_current_stream_capturing(),
    "nvtx": lambda L: L.cuda.nvtx.range_push("step"),
    "mps.synchronize": lambda L: L.mps.synchronize(),
}


@pytest.mark.parametrize("name", sorted(_CPU_ANSWERS))
def test_device_queries_answer_as_cpu_torch(torch, name):
    assert _CPU_ANSWERS[name](ember) == _CPU_ANSWERS[name](torch)


@pytest.mark.parametrize("name", sorted(_CPU_FAILURES))
def test_device_queries_fail_where_cpu_torch_fails(torch, name):
    with pytest.raises(Exception):
        _CPU_FAILURES[name](torch)
    with pytest.raises((RuntimeError, AssertionError)):
        _CPU_FAILURES[name](ember)


def test_cuda_graph_is_a_dummy_class_as_in_cpu_torch(torch):
    """transformers annotates with torch.cuda.CUDAGraph at import; making one raises."""
    for library in (ember, torch):
        with pytest.raises(RuntimeError, match="^Tried to instantiate dummy base class CUDAGraph$"):
            library.cuda.CUDAGraph()


def test_cached_memory_spellings_warn_and_answer_zero():
    with pytest.warns(FutureWarning, match="memory_reserved"):
        assert ember.cuda.memory_cached() == 0
    with pytest.warns(FutureWarning, match="max_memory_reserved"):
        assert ember.cuda.max_memory_cached() == 0


def test_get_device_module():
    assert ember.get_device_module() is ember.cpu
    assert ember.get_device_module("cuda:0") is ember.cuda
    assert ember.get_device_module(ember.device("cpu")) is ember.cpu
    with pytest.raises(RuntimeError, match="does not have a corresponding module"):
        ember.get_device_module("tpu")


def test_dlpack_shares_memory_both_ways(torch):
    import numpy as np
    from ember.utils.dlpack import from_dlpack, to_dlpack
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = ember.from_dlpack(array)
    array[0, 0] = 9
    assert tensor[0, 0].item() == 9 and tensor.dtype == ember.float32
    back = np.from_dlpack(tensor)
    tensor[1, 1] = -1
    assert back[1, 1] == -1
    assert from_dlpack(to_dlpack(tensor))[1, 1].item() == -1
    assert ember.Tensor.__dlpack_device__(tensor) == torch.ones(1).__dlpack_device__()
    # torch reads ember's memory through the protocol, and the reverse
    assert torch.from_dlpack(tensor)[0, 0].item() == 9
    assert ember.from_dlpack(torch.arange(3.0))[2].item() == 2.0
    with pytest.raises(BufferError, match="require gradient"):
        ember.from_dlpack(ember.ones(2, requires_grad=True))


def test_tensor_from_a_capsule_is_writable_as_torch(torch):
    """An unversioned capsule carries no read-only flag: torch (and ember) write through it."""
    from ember.utils.dlpack import from_dlpack, to_dlpack
    ours = ember.arange(4)
    shared = from_dlpack(to_dlpack(ours))
    shared[0] = -9
    theirs = torch.arange(4)
    their_shared = torch.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(theirs))
    their_shared[0] = -9
    assert ours.tolist() == theirs.tolist() == [-9, 1, 2, 3]
    strided = from_dlpack(to_dlpack(ember.arange(6.0).reshape(2, 3)[:, 1:]))
    assert strided.tolist() == [[1.0, 2.0], [4.0, 5.0]] and strided.stride() == (3, 1)
    from_torch = from_dlpack(torch.utils.dlpack.to_dlpack(theirs))
    from_torch[1] = 7
    assert theirs.tolist() == [-9, 7, 2, 3]
