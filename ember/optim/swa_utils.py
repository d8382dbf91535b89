"""Stochastic weight averaging (PyTorch's torch.optim.swa_utils): AveragedModel keeps a running
(or exponential) average of a model's parameters, SWALR anneals each group's lr to its SWA lr,
and update_bn recomputes BatchNorm statistics for the averaged weights."""
import copy
import itertools
import math

from .. import _dtype, _factories, ops
from ..autograd.grad_mode import no_grad
from ..nn.modules.batchnorm import _BatchNorm
from ..nn.modules.module import Module
from .lr_scheduler import LRScheduler, _format_param

__all__ = ["AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_avg_fn", "get_swa_multi_avg_fn", "update_bn"]


def get_ema_multi_avg_fn(decay=0.999):
    """In place over lists: ema <- lerp(ema, current, 1 - decay)."""
    def ema_update(ema_params, current_params, num_averaged):
        for ema, current in zip(ema_params, current_params):
            ema.copy_(ops.lerp(ema, current, 1 - decay) if ema.is_floating_point() else
                      ema * decay + current * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """In place over lists: averaged <- lerp(averaged, current, 1 / (n + 1))."""
    def swa_update(averaged_params, current_params, num_averaged):
        for averaged, current in zip(averaged_params, current_params):
            if averaged.is_floating_point():
                averaged.copy_(ops.lerp(averaged, current, 1 / (num_averaged + 1)))
            else:
                averaged.copy_(averaged + (current - averaged) / (num_averaged + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are the average
    of the ones passed to ``update_parameters``: equal weights by default, or ``avg_fn`` /
    ``multi_avg_fn`` (e.g. get_ema_multi_avg_fn(0.999))."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", _factories.tensor(0, dtype=_dtype.int64))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        if self.use_buffers:
            return list(itertools.chain(model.parameters(), model.buffers()))
        return list(model.parameters())

    def update_parameters(self, model):
        with no_grad():
            averaged = self._tensors(self.module)
            current = [tensor.detach() for tensor in self._tensors(model)]
            count = self.n_averaged.item()
            if count == 0:
                for mine, theirs in zip(averaged, current):
                    mine.copy_(theirs)
            elif self.multi_avg_fn is not None:
                self.multi_avg_fn(averaged, current, self.n_averaged)
            else:
                # Equal weights unless avg_fn says otherwise (PyTorch's CPU path).
                average = self.avg_fn or get_swa_avg_fn()
                for mine, theirs in zip(averaged, current):
                    mine.copy_(average(mine, theirs, self.n_averaged))
            if not self.use_buffers:
                # Buffers are not averaged: they follow the source model.
                for mine, theirs in zip(self.module.buffers(), model.buffers()):
                    mine.copy_(theirs.detach())
            self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """PyTorch's SWA BatchNorm update: running statistics reset, then one pass over ``loader``
    in training mode with momentum None (a cumulative average of the batch statistics); the
    momenta and the model's mode are restored. (ember.nn.utils.update_bn is ember's exact,
    dropout-free recalibration.)"""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        model(inputs)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to its ``swa_lr`` over ``anneal_epochs`` epochs (cosine or
    linear), then holds it."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        for value, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = value
        # PyTorch's attribute name, so that state_dict() has its "_anneal_strategy" key
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @property
    def anneal_func(self):
        """The annealing curve ``_anneal_strategy`` names (a property, so never in state_dict)."""
        return self._linear_anneal if self._anneal_strategy == "linear" else self._cosine_anneal

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        self._warn_if_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        previous_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        previous_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], previous_alpha)
                        for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, previous_lrs)]
