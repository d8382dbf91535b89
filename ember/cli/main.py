"""The ``ember`` command: ``demo``, ``train``, ``eval`` and ``inspect``.

Bad input ends with one line ``ember: error: ...`` on stderr and exit status 2, never a traceback.
"""
import argparse
import json
import math
import os
import re
import sys

from ..io.checkpoint import CheckpointError

DATASETS = ("digits",)
OPTIMIZERS = ("sgd", "adam", "adamw")


class UsageError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---- argument types ----------------------------------------------------------------------------

def _integer(text, minimum, what):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def non_negative_int(text):
    return _integer(text, 0, "a non-negative integer")


def positive_int(text):
    return _integer(text, 1, "a positive integer")


def _number(text, allow_zero):
    what = "a non-negative number" if allow_zero else "a positive number"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_float(text):
    return _number(text, allow_zero=False)


def non_negative_float(text):
    return _number(text, allow_zero=True)


def seed_value(text):
    return _integer(text, 0, "a non-negative integer seed")


def existing_file(text):
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: '{text}'")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"'{text}' is a directory, expected a checkpoint file")
    return text


# ---- the parser --------------------------------------------------------------------------------

def build_parser():
    parser = _Parser(prog="ember", description="ember: PyTorch's semantics on NumPy.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", help="train a small CNN on Digits and show why eval() and no_grad() matter")
    demo.add_argument("--out", default="demo-out", help="output directory (default: demo-out)")
    demo.add_argument("--epochs", type=positive_int, default=None,
                      help="training epochs (default: the demo's tuned setting)")
    demo.add_argument("--seed", type=seed_value, default=0, help="random seed (default: 0)")
    demo.set_defaults(handler=_run_demo)

    train = commands.add_parser("train", help="train a model, checkpointing every epoch")
    train.add_argument("--model", choices=("mlp", "cnn"), default="cnn")
    train.add_argument("--dataset", choices=DATASETS, default="digits")
    train.add_argument("--epochs", type=non_negative_int, default=10)
    train.add_argument("--batch-size", type=positive_int, default=64)
    train.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    train.add_argument("--lr", type=positive_float, default=1e-3)
    train.add_argument("--weight-decay", type=non_negative_float, default=0.0)
    train.add_argument("--seed", type=seed_value, default=0)
    train.add_argument("--out", default="runs", help="checkpoint directory (default: runs)")
    train.add_argument("--resume", type=existing_file, default=None,
                       help="continue from a checkpoint written by 'ember train'")
    train.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    train.add_argument("--nproc", type=positive_int, default=1,
                       help="data-parallel training on N MPI ranks, --batch-size split among "
                            "them (starts itself under mpiexec; needs ember[mpi])")
    train.set_defaults(handler=_run_train)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on its test set")
    evaluate.add_argument("checkpoint", type=existing_file)
    evaluate.add_argument("--dataset", choices=DATASETS, default=None,
                          help="dataset (default: the one the checkpoint was trained on)")
    evaluate.add_argument("--batch-size", type=positive_int, default=256)
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(handler=_run_eval)

    inspect = commands.add_parser("inspect", help="list a checkpoint's tensors and metadata")
    inspect.add_argument("checkpoint", type=existing_file)
    inspect.set_defaults(handler=_run_inspect)
    return parser


def main(argv=None):
    """Entry point of the ``ember`` console script and ``python -m ember``; returns the status."""
    parser = build_parser()
    try:
        from ..distributed.launch import relaunch_for_nproc
        status = relaunch_for_nproc(sys.argv[1:] if argv is None else list(argv))
        if status is not None:
            return status
        args = parser.parse_args(argv)
        return args.handler(args) or 0
    except (UsageError, CheckpointError) as error:
        message = " ".join(str(error).split())
        print(f"ember: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ember: interrupted", file=sys.stderr)
        return 130


# ---- commands ----------------------------------------------------------------------------------

def _run_demo(args):
    from .demo import run_demo
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create output directory '{args.out}': {error.strerror}") from None
    try:
        run_demo(out_dir=args.out, epochs=args.epochs, seed=args.seed)
    except ImportError as error:
        raise UsageError(str(error)) from None


def load_dataset(name, train):
    """The named dataset's train or test split (scikit-learn is needed for Digits)."""
    if name != "digits":
        raise UsageError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    try:
        from ..data.datasets import Digits
        return Digits(train=train)
    except ImportError as error:
        raise UsageError(str(error)) from None


def build_optimizer(name, parameters, lr, weight_decay):
    from .. import optim
    if name == "sgd":
        return optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    raise UsageError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


def _train_config(args):
    return {"model": args.model, "model_options": {}, "dataset": args.dataset,
            "optimizer": args.optimizer, "lr": args.lr, "weight_decay": args.weight_decay,
            "batch_size": args.batch_size, "seed": args.seed}


def _check_resume_checkpoint(path, config, epochs):
    from ..io.checkpoint import load
    state = load(path)
    saved = state.get("config") if isinstance(state, dict) else None
    if not isinstance(saved, dict) or "epoch" not in state:
        raise UsageError(f"'{path}' is not a checkpoint written by 'ember train'")
    if state["epoch"] > epochs:
        raise UsageError(f"'{path}' is after epoch {state['epoch']}, beyond the requested "
                         f"{epochs} epochs")
    different = [f"--{key.replace('_', '-')} {config[key]} (checkpoint: {saved.get(key)})"
                 for key in config if key != "model_options" and saved.get(key) != config[key]]
    if different:
        raise UsageError(f"cannot resume '{path}' with different settings: "
                         + "; ".join(different))


def _run_train(args):
    import ember
    from ..data import DataLoader
    from ..nn import CrossEntropyLoss
    from ..training import fit
    from .models import build_model

    config = _train_config(args)
    if args.resume is not None:
        _check_resume_checkpoint(args.resume, config, args.epochs)
    train_set = load_dataset(args.dataset, train=True)
    test_set = load_dataset(args.dataset, train=False)
    ember.manual_seed(args.seed)
    model = build_model(args.model, **config["model_options"])
    optimizer = build_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    # The shuffle order has its own stream, so it does not depend on how many numbers
    # initialisation drew; fit() checkpoints and restores it with the default generator.
    shuffle_generator = ember.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              generator=shuffle_generator)
    main_process = True
    if args.nproc > 1:
        from ..distributed.launch import distributed_training
        model, train_loader, main_process = distributed_training(
            model, train_set, args.batch_size, args.nproc, args.seed, UsageError)
    test_loader = DataLoader(test_set, batch_size=256)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create output directory '{args.out}': {error.strerror}") from None
    history = fit(model, train_loader, test_loader, CrossEntropyLoss(), optimizer, args.epochs,
                  checkpoint_dir=args.out if main_process else None, resume=args.resume,
                  progress=not args.quiet and main_process, config=config)
    if history["train_loss"] and main_process:
        accuracy = history["val_accuracy"][-1]
        print(f"final test accuracy {100 * accuracy:.2f}% after {args.epochs} epochs; "
              f"checkpoints in '{args.out}'")
    return 0


def _model_from_checkpoint(path, state):
    from .models import build_model
    config = state.get("config") if isinstance(state, dict) else None
    if not isinstance(config, dict) or "model" not in config or "model" not in state:
        raise UsageError(f"'{path}' has no model configuration; 'ember eval' needs a checkpoint "
                         f"written by 'ember train' or 'ember demo'")
    try:
        model = build_model(config["model"], **config.get("model_options", {}))
    except (ValueError, TypeError) as error:
        raise UsageError(f"'{path}': {error}") from None
    weights = state["model"]
    if isinstance(weights, dict) and weights and all(
            key.startswith("module.") for key in weights):  # from DistributedDataParallel
        weights = {key[len("module."):]: value for key, value in weights.items()}
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        raise UsageError(f"'{path}': the weights do not fit model {config['model']!r}: "
                         f"{error}") from None
    return model, config


def _run_eval(args):
    from ..data import DataLoader
    from ..io.checkpoint import load
    from ..nn import CrossEntropyLoss
    from ..training import evaluate

    state = load(args.checkpoint)
    model, config = _model_from_checkpoint(args.checkpoint, state)
    dataset = args.dataset or config.get("dataset", "digits")
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


def _displayable(value):
    """The checkpoint's object tree with tensors shown as short descriptions, as JSON-able data."""
    import numpy as np

    from .._dtype import dtype
    from ..tensor import Tensor
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
    if isinstance(value, (list, tuple)):
        return [_displayable(item) for item in value]
    if isinstance(value, dtype):
        return f"<dtype {value.name}>"
    return value


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


def _run_inspect(args):
    from ..io.checkpoint import load, read_header
    from ..tensor import Tensor
    state = load(args.checkpoint)  # validates every byte before anything is printed
    tensors, _ = read_header(args.checkpoint)
    total = sum(math.prod(shape) for _, shape in tensors.values())
    print(f"{args.checkpoint}: {len(tensors)} tensors, {total} elements, "
          f"{os.path.getsize(args.checkpoint)} bytes")
    width = max([len(name) for name in tensors] + [4])
    print(f"  {'name':<{width}}  {'dtype':<5}  shape")
    for name in sorted(tensors, key=_natural_key):
        dtype, shape = tensors[name]
        print(f"  {name:<{width}}  {dtype:<5}  {list(shape)}")
    flat = isinstance(state, dict) and all(isinstance(value, Tensor) for value in state.values())
    if flat:
        print("metadata: none (a flat state_dict)")
    else:
        print("metadata:")
        print(_format_json(_displayable(state)))
    return 0
