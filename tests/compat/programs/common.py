"""Shared by the compatibility programs: initial weights drawn from NumPy (so that PyTorch and
ember start from the same numbers; their own generators differ) and the loss report."""
import json

import numpy as np
import torch


def init_from_numpy(model, seed, scale=0.1):
    """Matrices uniform in [-scale, scale); vectors named ``weight`` (norms) one, others zero."""
    generator = np.random.default_rng(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() >= 2:
                values = generator.uniform(-scale, scale, size=tuple(parameter.shape))
            elif name.endswith("weight"):
                values = np.ones(tuple(parameter.shape))
            else:
                values = np.zeros(tuple(parameter.shape))
            parameter.copy_(torch.from_numpy(values).to(parameter.dtype))


def report(losses, **extra):
    """The last line of output: the per-step losses as JSON."""
    print(json.dumps({"losses": [float(loss) for loss in losses], **extra}))
