"""torch.save(model) / torch.load(path, weights_only=False): a whole module is stored by its
class's import path and its attributes, and rebuilt without running pickle code."""
import numpy as np
import pytest

import ember
from ember import nn


class TiedNet(nn.Module):
    def __init__(self, vocabulary=11, width=6):
        super().__init__()
        self.width = width
        self.names = ["embed", "head"]
        self.embed = nn.Embedding(vocabulary, width)
        self.block = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width))
        self.head = nn.Linear(width, vocabulary, bias=False)
        self.head.weight = self.embed.weight
        self.register_buffer("scale", ember.full((vocabulary,), 0.5))
        self.register_buffer("scratch", ember.zeros(2), persistent=False)

    def forward(self, tokens):
        return self.head(self.block(self.embed(tokens))) * self.scale


def test_a_whole_module_round_trips(tmp_path):
    ember.manual_seed(0)
    model = TiedNet()
    model.eval()
    path = tmp_path / "model.pt"
    ember.save(model, path)
    loaded = ember.load(path, weights_only=False)
    tokens = ember.tensor([[1, 4, 7]])
    assert type(loaded) is TiedNet and not loaded.training and loaded.width == 6
    assert loaded.names == ["embed", "head"]
    np.testing.assert_array_equal(loaded(tokens).detach().numpy(),
                                  model(tokens).detach().numpy())
    assert loaded.head.weight is loaded.embed.weight  # ties survive
    assert isinstance(loaded.embed.weight, nn.Parameter)
    assert [name for name, _ in loaded.named_buffers()] == ["scale", "scratch"]
    loaded.train()
    loaded(tokens).sum().backward()
    assert loaded.embed.weight.grad is not None
    assert sorted(loaded.state_dict()) == sorted(model.state_dict())


def test_whole_modules_need_weights_only_false(tmp_path):
    path = tmp_path / "model.pt"
    ember.save(nn.Linear(2, 2), path)
    for options in ({}, {"weights_only": True}):
        with pytest.raises(ember.io.UnsafeCheckpointError, match="weights_only=False"):
            ember.load(path, **options)
    assert isinstance(ember.load(path, weights_only=False), nn.Linear)


def test_modules_that_cannot_be_found_again_are_refused(tmp_path):
    class Local(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    with pytest.raises(TypeError, match="defined inside a function"):
        ember.save(Local(), tmp_path / "local.pt")
    model = nn.Linear(2, 2)
    model.register_forward_hook(lambda module, args, output: None)
    with pytest.raises(TypeError, match="cannot store Linear._forward_hooks"):
        ember.save(model, tmp_path / "hooked.pt")
    assert not list(tmp_path.iterdir())  # nothing half-written


class ActivationHolder(nn.Module):
    """LSTNet's pattern: the output function chosen in __init__ kept as an attribute."""
    def __init__(self, output, other=None):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.output = output
        self.others = {"gate": other}

    def forward(self, x):
        return self.output(self.linear(x))


def test_module_level_functions_held_by_a_module_are_stored_by_name(tmp_path):
    import math
    import ember.nn.functional as F
    ember.manual_seed(0)
    model = ActivationHolder(F.sigmoid, math.sqrt)
    path = tmp_path / "model.pt"
    ember.save(model, path)
    with pytest.raises(ember.io.UnsafeCheckpointError, match="weights_only=False"):
        ember.load(path)
    loaded = ember.load(path, weights_only=False)
    assert loaded.output is F.sigmoid and loaded.others["gate"] is math.sqrt
    x = ember.ones(1, 3)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())
    for unfindable in (lambda x: x, _local_function()):
        with pytest.raises(TypeError, match="only functions defined at the top level"):
            ember.save(ActivationHolder(unfindable), tmp_path / "refused.pt")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.pt"]


def _local_function():
    def relu_squared(x):
        return x.relu() ** 2
    return relu_squared


def test_script_saving_its_model_runs_as_under_torch(tmp_path, torch):
    """The saving tutorial's 'entire model' section, run through ember run and torch."""
    import subprocess
    import sys
    from tests.compat.conftest import run_ember
    script = tmp_path / "entire.py"
    script.write_text(
        "import torch, torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(3, 2)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n"
        "torch.manual_seed(0)\n"
        "model = Net()\n"
        f"torch.save(model, {str(tmp_path / 'm.pt')!r})\n"
        f"again = torch.load({str(tmp_path / 'm.pt')!r}, weights_only=False)\n"
        "again.eval()\n"
        "x = torch.ones(1, 3)\n"
        "print(type(again).__name__, torch.equal(model(x), again(x)), again)\n")
    ours = run_ember(script)
    theirs = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
