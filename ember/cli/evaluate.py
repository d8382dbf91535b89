"""``ember eval`` (rebuild a checkpoint's model and measure it on its test set) and ``ember inspect``
(list the tensors and metadata of a checkpoint, ember's or torch.save's)."""
import json
import math
import os
import re

import numpy as np

from .._dtype import dtype
from ..data import DataLoader
from ..io import list_tensors
from ..nn import CrossEntropyLoss
from ..serialization import load
from ..tensor import Tensor
from ..training import evaluate
from .console import UsageError
from .models import DATASETS, build_model, load_dataset


def _model_from_checkpoint(path, state):
    """The checkpoint's model with its weights, and its config; every problem is a UsageError."""
    config = state.get("config") if isinstance(state, dict) else None
    if not isinstance(config, dict) or "model" not in config or "model" not in state:
        raise UsageError(f"'{path}' has no model configuration; 'ember eval' needs a checkpoint "
                         f"written by 'ember train' or 'ember demo'")
    try:
        model = build_model(config["model"], config.get("model_options"))
    except ValueError as error:
        raise UsageError(f"'{path}': {error}") from None
    weights = state["model"]
    if isinstance(weights, dict) and weights and all(
            isinstance(key, str) and key.startswith("module.") for key in weights):
        weights = {key[len("module."):]: value for key, value in weights.items()}  # from DDP
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise UsageError(f"'{path}': the weights do not fit model {config['model']!r}: "
                         f"{error}") from None
    return model, config


def run_eval(args):
    state = load(args.checkpoint)
    model, config = _model_from_checkpoint(args.checkpoint, state)
    dataset = args.dataset or config.get("dataset", "digits")
    if dataset not in DATASETS:
        raise UsageError(f"'{args.checkpoint}' was trained on {dataset!r}, which ember does not "
                         f"know; pass --dataset")
    test_set = load_dataset(dataset, train=False)
    results = evaluate(model, DataLoader(test_set, batch_size=args.batch_size), CrossEntropyLoss())
    report = {"checkpoint": args.checkpoint, "model": config["model"], "dataset": dataset,
              "split": "test", "samples": len(test_set), "epoch": state.get("epoch"),
              "loss": results["loss"], "accuracy": results["accuracy"]}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{args.checkpoint}: model {config['model']}, {dataset} test set "
              f"({len(test_set)} samples)")
        print(f"loss {results['loss']:.4f}  accuracy {100 * results['accuracy']:.2f}%")
    return 0


# ---- inspect -----------------------------------------------------------------------------------

def _displayable(value):
    """The checkpoint's object tree with tensors shown as short descriptions, as JSON-able data."""
    if isinstance(value, Tensor):
        return f"<tensor {value.dtype.name} {list(value.shape)}>"
    if isinstance(value, np.ndarray):
        return f"<ndarray {value.dtype.name} {list(value.shape)}>"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if value and all(isinstance(item, Tensor) for item in value.values()):
            return f"<{len(value)} tensors, listed above>"
        return {str(key): _displayable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_displayable(item) for item in value]
    if isinstance(value, dtype):
        return f"<dtype {value.name}>"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)  # bytes, complex, devices, sizes: as Python writes them


def _format_json(value, indent=""):
    """Indented JSON, with lists of plain values kept on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(key)}: {_format_json(item, inner)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        items = [inner + _format_json(item, inner) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value)


def _natural_key(name):
    """Sort ``layer.10`` after ``layer.9``: digit runs compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name)]


def run_inspect(args):
    state = load(args.checkpoint)  # validates every byte before anything is printed
    file_format, tensors = list_tensors(args.checkpoint, state)
    total = sum(math.prod(shape) for _, shape in tensors.values())
    written_by = "" if file_format == "safetensors" else f" ({file_format} format)"
    print(f"{args.checkpoint}{written_by}: {len(tensors)} tensors, {total} elements, "
          f"{os.path.getsize(args.checkpoint)} bytes")
    width = max([len(name) for name in tensors] + [4])
    print(f"  {'name':<{width}}  {'dtype':<5}  shape")
    for name in sorted(tensors, key=_natural_key):
        tensor_dtype, shape = tensors[name]
        print(f"  {name:<{width}}  {tensor_dtype:<5}  {list(shape)}")
    flat = isinstance(state, dict) and all(isinstance(value, Tensor) for value in state.values())
    if flat:
        print("metadata: none (a flat state_dict)")
    else:
        print("metadata:")
        print(_format_json(_displayable(state)))
    return 0
