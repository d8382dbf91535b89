"""Module backward hooks (``register_full_backward_hook`` / ``_pre_hook``), as PyTorch builds
them: a module call with such hooks passes its tensor inputs, and then its tensor outputs,
through an identity node whose backward sees the gradients there and calls the hooks."""
import warnings

import numpy as np

from ...autograd.function import Op
from ...tensor import Tensor
from ..._grad_state import _grad_state


class BackwardHookFunction(Op):
    """Identity on several arrays; backward hands the gradients to ``callback``, which returns
    the ones to pass on. Outputs whose input needs no gradient are non-differentiable."""

    @staticmethod
    def forward(ctx, callback, *arrays):
        ctx.callback = callback
        outputs = tuple(array.view() for array in arrays)
        needs = ctx.needs_input_grad[1:]
        for output, need in zip(outputs, needs):
            if not need:
                ctx.mark_non_differentiable(output)
        return outputs

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.callback(grads))

    def name(self):
        return "BackwardHookFunctionBackward"


class BackwardHookState:
    """One call's hook plumbing: ``setup_inputs`` before forward, ``setup_outputs`` after."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.input_count = 0
        self.inputs = ()
        self.inputs_hooked = False
        self.grad_outputs = None

    def setup_inputs(self, args):
        """``args`` with its tensors passed through the input identity (when grad is on and
        one of them requires grad)."""
        positions = [index for index, arg in enumerate(args) if isinstance(arg, Tensor)]
        self.input_count = len(positions)
        grad_enabled, inference = _grad_state.get()
        if not self.hooks or not grad_enabled or inference or \
                not any(args[index].requires_grad for index in positions):
            return args
        self.inputs_hooked = True
        self.inputs = [args[index] for index in positions]
        wrapped = BackwardHookFunction.apply(self._input_grads, *self.inputs)
        args = list(args)
        for index, tensor in zip(positions, wrapped):
            args[index] = tensor
        return tuple(args)

    def setup_outputs(self, output):
        """``output`` (a tensor, or a tuple or list holding tensors) with its tensors passed
        through the output identity."""
        grad_enabled, inference = _grad_state.get()
        single = isinstance(output, Tensor)
        items = [output] if single else list(output) if isinstance(output, (tuple, list)) \
            else None
        if items is None or not grad_enabled or inference:
            return output
        positions = [index for index, item in enumerate(items)
                     if isinstance(item, Tensor) and item.requires_grad]
        if not positions:
            return output
        wrapped = BackwardHookFunction.apply(self._output_grads,
                                             *[items[index] for index in positions])
        for index, tensor in zip(positions, wrapped):
            items[index] = tensor
        if single:
            return items[0]
        return type(output)(items) if isinstance(output, list) else tuple(items)

    def _output_grads(self, grads):
        grads = tuple(_as_tensor(grad) for grad in grads)
        for hook in self.pre_hooks:
            result = hook(self.module, grads)
            if result is not None:
                grads = _checked(result, grads, "backward pre-hook")
        self.grad_outputs = grads
        if not self.inputs_hooked and self.hooks:
            warnings.warn("Full backward hook is firing when gradients are computed with respect "
                          "to module outputs since no inputs require gradients. See "
                          "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                          "#torch.nn.Module.register_full_backward_hook for more details.",
                          stacklevel=2)
            grad_inputs = (None,) * self.input_count
            for hook in self.hooks:
                hook(self.module, grad_inputs, grads)
        return [_as_array(grad) for grad in grads]

    def _input_grads(self, grads):
        # PyTorch's hooks see zeros where an input got no gradient
        grad_inputs = tuple(Tensor._wrap(np.zeros_like(tensor._data)) if grad is None
                            else _as_tensor(grad) for grad, tensor in zip(grads, self.inputs))
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                grad_inputs = _checked(result, grad_inputs, "backward hook")
        return [_as_array(grad) if tensor.requires_grad else None
                for grad, tensor in zip(grad_inputs, self.inputs)]


def _as_tensor(grad):
    return grad if grad is None or isinstance(grad, Tensor) else Tensor._wrap(np.asarray(grad))


def _as_array(grad):
    return grad._data if isinstance(grad, Tensor) else grad


def _checked(result, given, kind):
    """A hook's replacement gradients: a tuple (or list) of tensors or Nones, one per gradient
    ``given``, each the size of the one it replaces (PyTorch's checks and words)."""
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != len(given):
        raise RuntimeError(f"{kind} returned an invalid number of grad_input, got "
                           f"{len(result)}, but expected {len(given)}")
    for new, old in zip(result, given):
        if new is None:
            continue
        if not isinstance(new, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
        if old is not None and new._data.shape != old._data.shape:
            raise RuntimeError("hook 'hook' has changed the size of value")
    return result


# ---- the deprecated register_backward_hook -----------------------------------------------------
_NON_FULL_HINT = "Please use register_full_backward_hook to get the documented behavior."


def attach_non_full_hooks(module, hooks, inputs, result):
    """PyTorch's non-full hooks: each runs as ``hook(module, grad_input, grad_output)`` on the
    node that made the first output tensor, so it sees that node's gradients, which are the
    module's only for a one-node forward; warns as PyTorch does where they are not."""
    tensor = result
    while not isinstance(tensor, Tensor):
        if isinstance(tensor, dict):
            tensor = next(value for value in tensor.values() if isinstance(value, Tensor))
        else:
            tensor = tensor[0]
    grad_fn = tensor.grad_fn
    if grad_fn is None:
        return
    for hook in hooks:
        grad_fn.register_hook(_module_hook(hook, module))
    _warn_non_full(inputs, result, grad_fn)


def _module_hook(hook, module):
    def node_hook(grad_inputs, grad_outputs):
        return hook(module, grad_inputs, grad_outputs)
    return node_hook


def _all_tensors(values):
    return isinstance(values, tuple) and all(isinstance(value, Tensor) for value in values)


def _warn_non_full(inputs, result, grad_fn):
    """PyTorch's FutureWarnings for a non-full hook whose gradients are not the module's."""
    if isinstance(result, Tensor):
        result = (result,)
    elif not _all_tensors(result):
        _future_warning("Using non-full backward hooks on a Module that does not return a "
                        "single Tensor or a tuple of Tensors is deprecated and will be removed "
                        "in future versions. This hook will be missing some of the grad_output. "
                        + _NON_FULL_HINT)
        return
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif not _all_tensors(inputs):
        _future_warning("Using non-full backward hooks on a Module that does not take as input "
                        "a single Tensor or a tuple of Tensors is deprecated and will be removed "
                        "in future versions. This hook will be missing some of the grad_input. "
                        + _NON_FULL_HINT)
        return
    output_nodes = {value.grad_fn for value in result if value.grad_fn is not None}
    if not output_nodes or (len(output_nodes) == 1 and grad_fn not in output_nodes):
        _future_warning("Using a non-full backward hook when outputs are nested in python data "
                        "structure is deprecated and will be removed in future versions. This "
                        "hook will be missing some grad_output.")
    elif len(output_nodes) > 1:
        _future_warning("Using a non-full backward hook when outputs are generated by different "
                        "autograd Nodes is deprecated and will be removed in future versions. "
                        "This hook will be missing some grad_output. " + _NON_FULL_HINT)
    else:
        input_nodes = {value.grad_fn for value in inputs if value.grad_fn is not None}
        if input_nodes != {edge[0] for edge in grad_fn.next_functions}:
            _future_warning("Using a non-full backward hook when the forward contains multiple "
                            "autograd Nodes is deprecated and will be removed in future "
                            "versions. This hook will be missing some grad_input. "
                            + _NON_FULL_HINT)


def _future_warning(message):
    warnings.warn(message, FutureWarning, stacklevel=4)
