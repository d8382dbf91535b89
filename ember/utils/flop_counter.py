"""``torch.utils.flop_counter``: count the floating-point operations of the matrix products and
convolutions run inside a ``with FlopCounterMode()`` block, forward and backward, per module
(the model-FLOPs-utilisation idiom of training scripts).

The counts follow PyTorch's CPU build: a matrix product of ``m x k`` by ``k x n`` is ``2mkn``
(products with a 1-D operand other than vector @ matrix, as PyTorch's dot and mv, count
nothing), a convolution is PyTorch's formula, attention kernels count nothing (its CPU kernels
have no formula). While the block is open, ops run without ember's fast paths, as under the
profiler.
"""
import math
from collections import defaultdict

import numpy as np

from .. import _grad_state
from ..autograd.function import Op
from ..autograd.node import Node
from ..nn._kernels.conv import ConvNd, ConvTransposeNd
from ..nn._kernels.linear import Linear
from ..nn.modules.module import (Module, register_module_forward_hook,
                                 register_module_forward_pre_hook)
from ..ops.linalg import Einsum, MatMul

__all__ = ["FlopCounterMode", "get_suffix_str"]


def get_suffix_str(number):
    """The unit PyTorch prints a count in: '', 'K', 'M', 'B' or 'T'."""
    suffixes = ["", "K", "M", "B", "T"]
    index = max(0, min(len(suffixes) - 1, (len(str(number)) - 2) // 3))
    return suffixes[index]


def _convert_num_with_suffix(number, suffix):
    index = ["", "K", "M", "B", "T"].index(suffix)
    return f"{number / 1000 ** index:.3f}"


def _product_record(a_shape, b_shape, name=None):
    """(op name, flops) of one matrix product of these operand shapes, or None where PyTorch's
    matmul takes a path that it does not count (dot, mv, their folded forms)."""
    if len(b_shape) == 1 or (len(a_shape) == 1 and len(b_shape) != 2):
        return None
    rows = 1 if len(a_shape) == 1 else a_shape[-2]
    batch = np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    flops = 2 * math.prod(batch) * rows * a_shape[-1] * b_shape[-1]
    if name is None:
        name = "aten.bmm" if len(a_shape) > 2 and len(b_shape) > 2 else "aten.mm"
    return name, flops


def _matmul_rule(node, args):
    a_shape, b_shape = list(args[0].shape), list(args[1].shape)
    if len(args) > 2 and args[2] and len(a_shape) > 1:
        a_shape[-2:] = a_shape[-1], a_shape[-2]
    if len(args) > 3 and args[3] and len(b_shape) > 1:
        b_shape[-2:] = b_shape[-1], b_shape[-2]
    torch_name = getattr(node, "_torch_name", None)
    record = _product_record(a_shape, b_shape, "aten.bmm" if torch_name == "BmmBackward0"
                             else None)
    if record is None:
        return None
    name, flops = record
    return (name, flops), ((name, flops), (name, flops))


def _linear_rule(node, args):
    input, weight, bias = args[0], args[1], args[2]
    rows = math.prod(input.shape[:-1])
    flops = 2 * rows * weight.shape[0] * weight.shape[1]
    forward = ("aten.addmm" if bias is not None else "aten.mm", flops)
    return forward, (("aten.mm", flops), ("aten.mm", flops), None)


def _conv_count(x_shape, w_shape, out_shape, transposed):
    """PyTorch's convolution formula: 2 * batch * positions * filter * c_out * c_in, with the
    positions those of the input when transposed, else of the output."""
    batch = x_shape[0]
    positions = math.prod((x_shape if transposed else out_shape)[2:])
    c_out, c_in, *kernel = w_shape
    return 2 * batch * positions * math.prod(kernel) * c_out * c_in


def _swap(shape):
    return (shape[1], shape[0]) + tuple(shape[2:])


def _conv_rule(transposed):
    def rule(node, args, output):
        x_shape, w_shape, out_shape = tuple(args[0].shape), tuple(args[1].shape), output
        forward = _conv_count(x_shape, w_shape, out_shape, transposed)
        grad_input = _conv_count(out_shape, w_shape, x_shape, not transposed)
        if transposed:
            grad_weight = _conv_count(_swap(out_shape), _swap(x_shape), _swap(w_shape), False)
        else:
            grad_weight = _conv_count(_swap(x_shape), _swap(out_shape), _swap(w_shape), False)
        name = "aten.convolution_backward"
        return ("aten.convolution", forward), ((name, grad_input), (name, grad_weight), None)
    return rule


def _einsum_rule(node, args):
    """The pairwise products PyTorch's einsum runs, left to right: a pair with a letter that
    both share and nothing later needs is one (batched) product; others are elementwise. In
    backward each product counts once more for each of its two sides that needs a gradient."""
    subscripts, output, operands = args[0], args[1], args[2:]
    sizes = {}
    for letters, operand in zip(subscripts, operands):
        sizes.update(zip(letters, operand.shape))
    products = []  # (flops, operands on the left, the operand on the right)
    current = subscripts[0]
    for position in range(1, len(subscripts)):
        other = subscripts[position]
        later = set(output).union(*subscripts[position + 1:])
        summed = (set(current) & set(other)) - later
        kept = (set(current) | set(other)) & later
        if summed:
            flops = 2 * math.prod(sizes[letter] for letter in kept | summed)
            products.append((flops, range(position), position))
        current = "".join(sorted(kept))
    if not products:
        return None
    total = sum(flops for flops, _, _ in products)

    def backward(needs):
        needs = needs[2:]  # the equation's two arguments come first
        counts = []
        for flops, left, right in products:
            sides = any(needs[index] for index in left) + bool(needs[right])
            counts.extend([("aten.bmm", flops)] * sides)
        return counts
    return ("aten.bmm", total), backward


_RULES = {MatMul: _matmul_rule, Linear: _linear_rule, Einsum: _einsum_rule}
_SHAPE_RULES = {ConvNd: _conv_rule(False), ConvTransposeNd: _conv_rule(True)}


class FlopCounterMode:
    """``with FlopCounterMode(display=False) as counter: ...`` then
    ``counter.get_total_flops()`` and ``counter.get_flop_counts()`` (per module: 'Global',
    the outermost module by its class name, its children as 'Sequential.0')."""

    def __init__(self, mods=None, depth=2, display=True, custom_mapping=None):
        self.depth = depth
        self.display = display
        self.flop_counts = defaultdict(lambda: defaultdict(int))
        self._names = {}
        self._seen = set()
        self._stack = []
        self._saved = None

    def get_total_flops(self):
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self):
        """{module name: {op name: flops}}, 'Global' for everything."""
        return {name: dict(counts) for name, counts in self.flop_counts.items()}

    def get_table(self, depth=None):
        """PyTorch's table of the counts (it needs the ``tabulate`` package, as PyTorch's)."""
        import tabulate  # noqa: F401 - optional, as in PyTorch: the error is its ImportError
        if depth is None:
            depth = self.depth if self.depth is not None else 999999
        tabulate.PRESERVE_WHITESPACE = True
        total = self.get_total_flops()
        suffix = get_suffix_str(total)
        rows = []
        global_subsumed = False

        def row(name, counts, level):
            flops = sum(counts.values())
            percent = f"{flops / max(total, 1) * 100:.2f}%"
            lines = [[" " * level + name, _convert_num_with_suffix(flops, suffix), percent]]
            for op, value in counts.items():
                lines.append([" " * level + " - " + op,
                              _convert_num_with_suffix(value, suffix),
                              f"{value / max(total, 1) * 100:.2f}%"])
            return lines
        for name in sorted(self.flop_counts):
            if name == "Global":
                continue
            level = name.count(".") + 1
            if level > depth:
                continue
            counts = self.flop_counts[name]
            global_subsumed |= sum(counts.values()) == total
            rows.extend(row(name, counts, level - 1))
        if "Global" in self.flop_counts and not global_subsumed:
            for entry in rows:
                entry[0] = " " + entry[0]
            rows = row("Global", self.flop_counts["Global"], 0) + rows
        return tabulate.tabulate(rows, headers=["Module", "FLOP", "% Total"],
                                 colalign=("left", "right", "right"))

    # ---- the block ---------------------------------------------------------------------------
    def __enter__(self):
        self.flop_counts.clear()
        counter = self
        saved_apply = Op.__dict__["apply"]
        apply = saved_apply.__func__
        run_backward = Node._run_backward

        def counting_apply(cls, *args):
            result = apply(cls, *args)
            rule = _RULES.get(cls)
            shape_rule = _SHAPE_RULES.get(cls)
            if rule is None and shape_rule is None:
                return result
            first = result[0] if isinstance(result, tuple) else result
            node = getattr(first, "grad_fn", None)
            if rule is not None:
                record = rule(node, args)
            else:
                record = shape_rule(node, args, tuple(first.shape))
            if record is None:
                return result
            modules = counter._active_modules()
            counter._count(modules, *record[0])
            if isinstance(node, cls):
                node._flop_record = (modules, record[1])
            return result

        def counting_run_backward(node, grad_outputs, create_graph):
            record = getattr(node, "_flop_record", None) if isinstance(node, Op) else None
            if record is not None:
                modules, per_input = record
                needs = node.needs_input_grad
                if callable(per_input):
                    entries = per_input(needs)
                else:
                    entries = [entry for needed, entry in zip(needs, per_input)
                               if needed and entry is not None]
                for entry in entries:
                    counter._count(modules, *entry)
            return run_backward(node, grad_outputs, create_graph)

        self._saved = (saved_apply, run_backward, _grad_state.fast_paths[0])
        Op.apply = classmethod(counting_apply)
        Node._run_backward = counting_run_backward
        _grad_state.fast_paths[0] = False
        self._hooks = (register_module_forward_pre_hook(self._enter_module),
                       register_module_forward_hook(self._leave_module))
        return self

    def __exit__(self, *exc_info):
        apply, run_backward, fast = self._saved
        Op.apply = apply
        Node._run_backward = run_backward
        _grad_state.fast_paths[0] = fast
        for handle in self._hooks:
            handle.remove()
        self._stack.clear()
        if self.display:
            print(self.get_table(self.depth))
        return False

    def _count(self, modules, name, flops):
        self.flop_counts["Global"][name] += flops
        for module_name in modules:
            self.flop_counts[module_name][name] += flops

    def _active_modules(self):
        return tuple(dict.fromkeys(self._stack))

    def _name(self, module):
        """PyTorch's module tracker names: a module first met outside a known parent by its class
        name, every child of a named module as 'parent.attribute'."""
        name = self._names.setdefault(module, type(module).__name__)
        if module not in self._seen:
            self._seen.add(module)
            for child_name, child in module.named_children():
                self._names[child] = f"{name}.{child_name}"
                self._name(child)
        return name

    def _enter_module(self, module, args):
        if isinstance(module, Module):
            self._stack.append(self._name(module))

    def _leave_module(self, module, args, output):
        if isinstance(module, Module) and self._stack:
            self._stack.pop()
