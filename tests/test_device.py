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
    # Beyond torch (where device('cpu') == 'cpu' is False): a device equals its string form.
    assert ember.device("cpu") == "cpu"
    assert ember.device("cuda:1") == "cuda:1"
    assert ember.device("cpu") != "cuda"
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
    assert tensor.device == "cpu"
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
