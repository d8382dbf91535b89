"""Shared test fixtures: fixed seeds, the optional torch import, float64 helpers, the
comparison of an ember callable with its torch twin, and MPI jobs."""
import importlib
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from ember.distributed import is_mpi_available
from ember.distributed.launch import find_mpiexec


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state in ember, NumPy and (if present) torch."""
    ember.manual_seed(0)
    np.random.seed(0)
    torch_module = _import_torch()
    if torch_module is not None:
        torch_module.manual_seed(0)
    yield


_TORCH = []


def _import_torch():
    """torch when installed, else None (imported once)."""
    if not _TORCH:
        try:
            _TORCH.append(importlib.import_module("torch"))
        except ImportError:
            _TORCH.append(None)
    return _TORCH[0]


@pytest.fixture
def torch():
    """The torch module; the test is skipped cleanly when torch is not installed."""
    return pytest.importorskip("torch")


@pytest.fixture
def without_tensorboard(monkeypatch):
    """tensorboard made unimportable and ember.utils.tensorboard forgotten for one test, as on a
    machine without the tensorboard extra."""
    for name in list(sys.modules):
        if name.startswith("ember.utils.tensorboard"):
            monkeypatch.delitem(sys.modules, name)
        elif name == "tensorboard" or name.startswith("tensorboard."):
            monkeypatch.setitem(sys.modules, name, None)  # None: "not installed" to importlib
    monkeypatch.setitem(sys.modules, "tensorboard", None)


def float64_tensor(shape, low=-1.0, high=1.0, requires_grad=True, seed=0):
    """A float64 tensor with uniform values in [low, high), for gradchecks."""
    random = np.random.default_rng(seed)
    array = random.uniform(low, high, size=shape)
    return ember.tensor(array, dtype=ember.float64, requires_grad=requires_grad)


def to_float64(tensor):
    """A float64 leaf copy of an ember tensor that requires grad (when it is floating)."""
    out = ember.tensor(tensor.detach().numpy().astype(np.float64), dtype=ember.float64)
    return out.requires_grad_(True)


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, check_dtype=True):
    """Compare ember/torch tensors or arrays elementwise (NaN equal to NaN), and their dtypes."""
    actual_array = _as_numpy(actual)
    expected_array = _as_numpy(expected)
    assert actual_array.shape == expected_array.shape, \
        f"shape {actual_array.shape} != {expected_array.shape}"
    if check_dtype:
        assert actual_array.dtype == expected_array.dtype, \
            f"dtype {actual_array.dtype} != {expected_array.dtype}"
    np.testing.assert_allclose(actual_array.astype(np.float64) if actual_array.dtype != np.bool_
                               else actual_array,
                               expected_array.astype(np.float64) if expected_array.dtype
                               != np.bool_ else expected_array,
                               rtol=rtol, atol=atol, equal_nan=True)


def _as_numpy(value):
    if isinstance(value, ember.Tensor):
        return np.asarray(value.detach()._data)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


def float_array(shape, seed=0, low=-3.0, high=3.0):
    """float32 values in [low, high), none within 1e-3 of 0 (where activations have kinks)."""
    values = np.random.default_rng(seed).uniform(low, high, size=shape)
    values[np.abs(values) < 1e-3] = 0.5
    return values.astype(np.float32)


def compare_with_torch(torch, ember_fn, torch_fn, arrays, rtol=1e-5, atol=1e-6, grads=True):
    """Run both libraries on the same float arrays; compare outputs and every input gradient."""
    ours = [ember.tensor(array, requires_grad=grads) for array in arrays]
    theirs = [torch.tensor(array, requires_grad=grads) for array in arrays]
    our_out = ember_fn(*ours)
    their_out = torch_fn(*theirs)
    assert_close(our_out.detach(), their_out.detach(), rtol=rtol, atol=atol)
    if not grads:
        return ours, theirs
    weights = np.random.default_rng(7).standard_normal(tuple(their_out.shape)).astype(np.float32)
    (our_out * ember.tensor(weights)).sum().backward()
    (their_out * torch.tensor(weights)).sum().backward()
    for our_input, their_input in zip(ours, theirs):
        assert_close(our_input.grad, their_input.grad, rtol=rtol, atol=atol * 10)
    return ours, theirs


def gradcheck_arrays(fn, arrays):
    """float64 gradcheck of ``fn`` at ``arrays``."""
    inputs = [ember.tensor(array.astype(np.float64), requires_grad=True) for array in arrays]
    assert gradcheck(fn, inputs)


def assert_layer_like_torch(torch, expression):
    """``nn.<expression>`` built in both libraries: the same repr and state_dict keys."""
    ours = eval("ember.nn." + expression)
    theirs = eval("torch.nn." + expression)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def load_torch_state(ours, theirs):
    """Copy a torch module's state_dict into the ember module ``ours``."""
    ours.load_state_dict({key: ember.tensor(value.detach().numpy())
                          for key, value in theirs.state_dict().items()})


def assert_raises_like_torch(theirs, ours, error=Exception, same_type=False):
    """``theirs()`` raises ``error``, and ``ours()`` raises it too (torch's very type when
    ``same_type``) with the same message (``ember.Size`` where torch prints ``torch.Size``)."""
    with pytest.raises(error) as their_error:
        theirs()
    with pytest.raises(their_error.type if same_type else error) as our_error:
        ours()
    assert str(our_error.value) == str(their_error.value).replace("torch.Size", "ember.Size")


def outcome(call, fw):
    """How ``call(fw)`` ends: ("raised", exception type name, message with torch's "torch."
    read as "ember."), or ("returned", value), a tensor as (dtype name, values as a list)."""
    try:
        result = call(fw)
    except Exception as error:
        return ("raised", type(error).__name__, str(error).replace("torch.", "ember."))
    if isinstance(result, fw.Tensor):
        return ("returned", str(result.dtype).split(".")[-1], result.tolist())
    if isinstance(result, (tuple, list)):
        result = tuple(result)
    return ("returned", result)


def assert_same_outcome_as_torch(torch, call):
    """``call(ember)`` ends as ``call(torch)`` does (see ``outcome``)."""
    assert outcome(call, ember) == outcome(call, torch)


def assert_same_result_or_error(theirs, ours, rtol=1e-12, error=RuntimeError):
    """``ours()`` gives ``theirs()``'s tensor (to ``rtol``), or, where torch raises ``error``,
    raises it as torch does."""
    try:
        expected = theirs()
    except error:
        assert_raises_like_torch(theirs, ours, error, same_type=True)
        return
    np.testing.assert_allclose(ours().detach().numpy(), expected.detach().numpy(), rtol=rtol)


def _mpi_environment():
    """The test's environment with this checkout first on the path and one BLAS thread a rank."""
    environment = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    environment["PYTHONPATH"] = root + os.pathsep + environment.get("PYTHONPATH", "")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        environment[name] = "1"
    return environment


def _run_mpi_job(nproc, arguments, timeout):
    """``mpiexec -n nproc python arguments...``; on timeout the whole job (mpiexec and every
    rank, in their own session) is killed before TimeoutExpired propagates."""
    command = [find_mpiexec(), "-n", str(nproc), sys.executable, *arguments]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=_mpi_environment(), cwd=root,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def mpi_job():
    """Run an MPI job: ``mpi_job(nproc, [script, args...], timeout)`` returns the completed
    process; skips the test when mpiexec or mpi4py is missing."""
    if find_mpiexec() is None or not is_mpi_available():
        pytest.skip("needs mpiexec and mpi4py (pip install '.[mpi]' in the ember checkout)")
    return _run_mpi_job


@pytest.fixture(scope="session")
def mpi_environment():
    """The environment ``mpi_job`` gives its ranks (for jobs started another way)."""
    return _mpi_environment()


def optimizer_case_id(case):
    """The test id of an (optimizer name, options) case: ``Adam-lr=0.01-...``."""
    name, options = case
    return name + "-" + "-".join(f"{key}={value}" for key, value in options.items())


def optimizer_data(seed=0, shapes=((3, 4), (5,), ()), steps=25):
    """float32 initial parameters of ``shapes`` and ``steps`` steps of gradients for them."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    gradients = [[rng.standard_normal(shape).astype(np.float32) for shape in shapes]
                 for _ in range(steps)]
    return initial, gradients


def run_optimizer(library, name, options, initial, gradients, group_overrides=None, skip=None,
                  state=None):
    """Run ``library``'s optimizer ``name`` over the per-step ``gradients`` from ``initial``
    parameters: with ``group_overrides``, the last parameters form a second param group with
    those options; with ``skip``, parameter 1 gets no gradient every ``skip`` steps. Returns the
    optimizer and the final parameters as arrays."""
    params = [library.tensor(array.copy(), requires_grad=True) for array in initial]
    param_spec = params
    if group_overrides is not None:
        param_spec = [{"params": params[:2]}, {"params": params[2:], **group_overrides}]
    opt = getattr(library.optim, name)(param_spec, **options)
    if state is not None:
        opt.load_state_dict(state)
    for step, step_gradients in enumerate(gradients):
        for index, (param, gradient) in enumerate(zip(params, step_gradients)):
            if skip is not None and index == 1 and step % skip == 0:
                param.grad = None  # a parameter without a gradient this step must be skipped
            else:
                param.grad = library.tensor(gradient)
        opt.step()
    return opt, [param.detach().numpy() for param in params]


def assert_float32_close(actual, expected):
    """Optimizer results: float32 arrays equal to the reference within float32 rounding."""
    for got, want in zip(actual, expected):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.fixture
def split_work(monkeypatch):
    """ember's own thread pool on, its ops cut into ranges on 3 threads however small the work
    (the parallel paths); the pool's setting and the thread count restored afterwards."""
    from ember import _threads
    before = ember.get_num_threads()
    pool = _threads._state["pool"]
    monkeypatch.setattr(_threads, "GEMM_GRAIN", 1)
    monkeypatch.setattr(_threads, "ELEMENT_GRAIN", 1)
    _threads.use_pool(True)
    ember.set_num_threads(3)
    yield
    _threads._state["pool"] = pool
    ember.set_num_threads(before)
