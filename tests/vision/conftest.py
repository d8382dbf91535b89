"""The optional torchvision import for the differential transform tests."""
import importlib.util
import sys

import pytest


def _import_torchvision():
    """torchvision, or a skip where torch or torchvision is absent.

    The transforms are pure Python and need none of torchvision's C++ ops. A torchvision build
    whose ops cannot load next to this torch (a CUDA wheel beside a CPU torch) fails on import
    only where it registers fake kernels for ``nms`` and ``qnms``; declaring those two schemas
    first lets the import finish.
    """
    torch = pytest.importorskip("torch")
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed")
    try:
        import torchvision
    except ImportError as error:
        pytest.skip(f"torchvision is not importable: {error}")
    except RuntimeError as error:
        if "does not exist" not in str(error):
            raise
        for name in [name for name in sys.modules
                     if name == "torchvision" or name.startswith("torchvision.")]:
            del sys.modules[name]
        library = torch.library.Library("torchvision", "FRAGMENT")
        library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _LIBRARIES.append(library)
        import torchvision
    return torchvision


_LIBRARIES = []  # the schemas' library must outlive the import


@pytest.fixture
def without_random_init(monkeypatch):
    """Skip the random fills while building (VGG's 100M-parameter classifier takes seconds to
    initialise); for tests of structure, or of weights loaded afterwards."""
    from ember import nn

    for name in ("uniform_", "normal_", "kaiming_uniform_", "kaiming_normal_", "trunc_normal_",
                 "xavier_uniform_"):
        monkeypatch.setattr(nn.init, name, lambda tensor, *args, **kwargs: tensor)


@pytest.fixture(scope="session")
def torchvision():
    """The torchvision module; the test is skipped cleanly when torch or torchvision is
    missing."""
    return _import_torchvision()
