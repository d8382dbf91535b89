"""The UserWarnings PyTorch gives for common idioms, given by ember with the same text: every
call (copy-constructing with torch.tensor(tensor), a scheduler stepped first) or once per process
as PyTorch's C++ warnings (a list of NumPy arrays, a read-only array, ``x.T`` of anything but a
matrix, meshgrid without ``indexing``, chain_matmul, the legacy lu and qr, padding='same' split
unevenly, backward with create_graph); the DataLoader's (pin_memory without an accelerator, more
workers than CPUs) and deprecations. PyTorch runs in a fresh process so that its once-only
warnings fire."""
import importlib
import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np

import ember

tensor_module = importlib.import_module("ember.tensor")

CASES = {
    "copy construct": "lib.tensor(lib.ones(2))",
    "list of arrays": "lib.tensor([np.ones(2), np.ones(2)])",
    "read-only array": "lib.from_numpy(np.broadcast_to(np.ones(1), (3,)))",
    "read-only as_tensor": "lib.as_tensor(np.broadcast_to(np.ones(1), (3,)))",
    "T of 3-d": "lib.ones(2, 3, 4).T",
    "T of 1-d": "lib.ones(3).T",
    "T of 2-d": "lib.ones(2, 3).T",
    "T of 0-d": "lib.tensor(1.0).T",
    "meshgrid without indexing": "lib.meshgrid(lib.ones(2), lib.ones(3))",
    "meshgrid with indexing": "lib.meshgrid(lib.ones(2), lib.ones(3), indexing='xy')",
    "chain_matmul": "lib.chain_matmul(lib.ones(2, 2), lib.ones(2, 2))",
    "legacy qr": "lib.qr(lib.eye(2))",
    "legacy torch.lu": "lib.lu(lib.eye(2))",
    "legacy lu": "lib.eye(2).lu()",
    "scheduler first": ("(lambda o: lib.optim.lr_scheduler.StepLR(o, 1).step())("
                        "lib.optim.SGD([lib.nn.Parameter(lib.ones(1))], lr=0.1))"),
    "pin_memory without accelerator": ("list(lib.utils.data.DataLoader("
                                       "lib.utils.data.TensorDataset(lib.ones(4)), batch_size=2, "
                                       "pin_memory=True))"),
    "more workers than CPUs": "lib.utils.data.DataLoader(range(4), num_workers=512)",
    "sdp_kernel at the call": "lib.backends.cuda.sdp_kernel(enable_flash=False)",
    "padding same, even kernel": "lib.nn.Conv1d(1, 1, 4, padding='same')(lib.ones(1, 1, 8))",
    "padding same, odd kernel": "lib.nn.Conv1d(1, 1, 3, padding='same')(lib.ones(1, 1, 8))",
    "backward with create_graph": ("(lambda p: (p * p).sum().backward(create_graph=True))("
                                   "lib.nn.Parameter(lib.ones(2)))"),
    "state_dict positional": "sorted(lib.nn.Linear(1, 1).state_dict(None, 'x.'))",
}

RECORD = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    import {library} as lib
    messages = {{}}
    for name, source in json.loads(sys.argv[1]).items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(2):
                eval(source)
        messages[name] = [w.category.__name__ + ": "
                          + str(w.message).split(" (Triggered internally at")[0]
                          for w in caught if issubclass(w.category, (UserWarning, FutureWarning))]
    print(json.dumps(messages))
""")


def _record(library):
    completed = subprocess.run([sys.executable, "-c", RECORD.format(library=library),
                                json.dumps(CASES)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_common_idioms_warn_as_torch(torch):
    assert _record("ember") == _record("torch")


def test_once_only_warnings_come_once_per_process():
    tensor_module._warned_once.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            ember.ones(2, 3, 4).T
            ember.tensor([np.ones(2), np.ones(2)])
    assert len(caught) == 2
    assert caught[0].filename == __file__


NESTED_ARRAYS = {
    "list of lists of arrays": lambda lib: lib.tensor([[np.ones(3)] * 2] * 2, dtype=lib.float),
    "tuple of arrays": lambda lib: lib.tensor((np.ones(2), np.ones(2))),
    "array after plain numbers": lambda lib: lib.tensor([[1, 2], np.ones(2, np.int64)]),
    "0-d array inside a row": lambda lib: lib.tensor([[1.0], [np.array(2.0)]]),
    "as_tensor of a list of arrays": lambda lib: lib.as_tensor([np.ones(2)]),
    "legacy constructor": lambda lib: lib.Tensor([np.ones(2)]),
    "NumPy scalars": lambda lib: lib.tensor([1.0, np.float32(2)]),
    "first element a 0-d array": lambda lib: lib.tensor([np.array(2.0)], dtype=lib.float),
}


def test_arrays_at_any_depth_warn_as_torch(torch):
    """minimalRL's ppo-continuous builds ``torch.tensor(batch, dtype=torch.float)`` from lists of
    lists of arrays: PyTorch warns for an array met anywhere (not only a list's first element),
    and fails on a 0-d array where compute_sizes expects a sequence."""
    torch.set_warn_always(True)  # its once-only warnings then warn every time (per array)
    try:
        for name, build in NESTED_ARRAYS.items():
            results = []
            for lib in (torch, ember):
                tensor_module._warned_once.clear()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        made = build(lib)
                        outcome = (made.tolist(), str(made.dtype).split(".")[1])
                    except TypeError as error:
                        outcome = str(error)
                results.append((outcome, any("numpy.ndarrays is extremely slow" in str(w.message)
                                             for w in caught)))
            assert results[0] == results[1], name
    finally:
        torch.set_warn_always(False)
