"""fast.ai course22p2's "miniai" as its notebooks write it: a ``Learner`` whose steps are
callbacks (``with_cbs`` decorators, ``Cancel*Exception`` control flow, ``partial``-built
callbacks), ``GeneralRelu`` (leaky_relu, then ``x -= sub`` and ``clamp_max_`` on its output),
``kaiming_normal_(a=0.1)`` applied through ``model.apply``, LSUV initialisation under a forward
hook, a hand-written BatchNorm (``register_buffer``, ``lerp_``), ``ActivationStats`` hooks that
keep means, stds and ``abs().histc`` histograms, batches of dicts through ``default_collate``,
SGD with momentum under ``OneCycleLR`` stepped per batch, ``MetricsCB`` accuracy by ``argmax``
and an LR finder that stops the fit with ``CancelFitException``. Everything random comes from
``torch.manual_seed``."""
import argparse
import math
from functools import partial
from operator import attrgetter

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import lr_scheduler
from torch.utils.data import DataLoader, default_collate

from common import report


class CancelFitException(Exception):
    pass


class CancelBatchException(Exception):
    pass


class CancelEpochException(Exception):
    pass


class Callback:
    order = 0


def run_cbs(cbs, method_nm, learn=None):
    for cb in sorted(cbs, key=attrgetter('order')):
        method = getattr(cb, method_nm, None)
        if method is not None:
            method(learn)


class with_cbs:
    def __init__(self, nm):
        self.nm = nm

    def __call__(self, f):
        def _f(o, *args, **kwargs):
            try:
                o.callback(f'before_{self.nm}')
                f(o, *args, **kwargs)
                o.callback(f'after_{self.nm}')
            except globals()[f'Cancel{self.nm.title()}Exception']:
                pass
            finally:
                o.callback(f'cleanup_{self.nm}')
        return _f


class Learner:
    def __init__(self, model, dls, loss_func, lr=0.1, cbs=None, opt_func=torch.optim.SGD):
        self.model, self.dls, self.loss_func, self.lr = model, dls, loss_func, lr
        self.opt_func = opt_func
        self.cbs = list(cbs or [])

    @with_cbs('batch')
    def _one_batch(self):
        self.predict()
        self.callback('after_predict')
        self.get_loss()
        self.callback('after_loss')
        if self.training:
            self.backward()
            self.callback('after_backward')
            self.step()
            self.callback('after_step')
            self.zero_grad()

    @with_cbs('epoch')
    def _one_epoch(self):
        for self.iter, self.batch in enumerate(self.dl):
            self._one_batch()

    def one_epoch(self, training):
        self.model.train(training)
        self.dl = self.dls[0] if training else self.dls[1]
        self._one_epoch()

    @with_cbs('fit')
    def _fit(self, train, valid):
        for self.epoch in self.epochs:
            if train:
                self.one_epoch(True)
            if valid:
                torch.no_grad()(self.one_epoch)(False)

    def fit(self, n_epochs=1, train=True, valid=True, cbs=None, lr=None):
        cbs = list(cbs or [])
        self.cbs.extend(cbs)
        try:
            self.n_epochs = n_epochs
            self.epochs = range(n_epochs)
            self.opt = self.opt_func(self.model.parameters(), self.lr if lr is None else lr)
            self._fit(train, valid)
        finally:
            for cb in cbs:
                self.cbs.remove(cb)

    def __getattr__(self, name):
        if name in ('predict', 'get_loss', 'backward', 'step', 'zero_grad'):
            return partial(self.callback, name)
        raise AttributeError(name)

    def callback(self, method_nm):
        run_cbs(self.cbs, method_nm, self)

    @property
    def training(self):
        return self.model.training


class TrainCB(Callback):
    def predict(self, learn):
        learn.preds = learn.model(learn.batch[0])

    def get_loss(self, learn):
        learn.loss = learn.loss_func(learn.preds, learn.batch[1])

    def backward(self, learn):
        learn.loss.backward()

    def step(self, learn):
        learn.opt.step()

    def zero_grad(self, learn):
        learn.opt.zero_grad(set_to_none=False)


class MetricsCB(Callback):
    order = 10

    def __init__(self):
        self.train_losses, self.valid_accuracy = [], []

    def before_epoch(self, learn):
        self.correct, self.count, self.total = 0, 0, 0.0

    def after_batch(self, learn):
        labels = learn.batch[1]
        if learn.training:
            self.train_losses.append(learn.loss.item())
        self.correct += (learn.preds.argmax(dim=1) == labels).float().sum().item()
        self.count += len(labels)

    def after_epoch(self, learn):
        if not learn.training:
            self.valid_accuracy.append(self.correct / self.count)


class BatchSchedCB(Callback):
    def __init__(self, sched):
        self.sched = sched

    def before_fit(self, learn):
        self.schedo = self.sched(learn.opt)

    def after_batch(self, learn):
        if learn.training:
            self.schedo.step()


class RecorderCB(Callback):
    def __init__(self, **d):
        self.d = d

    def before_fit(self, learn):
        self.recs = {k: [] for k in self.d}
        self.pg = learn.opt.param_groups[0]

    def after_batch(self, learn):
        if learn.training:
            for k, v in self.d.items():
                self.recs[k].append(v(self))


class LRFinderCB(Callback):
    def __init__(self, gamma=1.6, max_mult=1.5):
        self.gamma, self.max_mult = gamma, max_mult

    def before_fit(self, learn):
        self.sched = lr_scheduler.ExponentialLR(learn.opt, self.gamma)
        self.lrs, self.losses = [], []
        self.min = math.inf

    def after_batch(self, learn):
        if not learn.training:
            raise CancelEpochException()
        self.lrs.append(learn.opt.param_groups[0]['lr'])
        loss = learn.loss.detach().item()
        self.losses.append(loss)
        self.min = min(self.min, loss)
        if math.isnan(loss) or loss > self.min * self.max_mult:
            raise CancelFitException()
        self.sched.step()


class GeneralRelu(nn.Module):
    def __init__(self, leak=None, sub=None, maxv=None):
        super().__init__()
        self.leak, self.sub, self.maxv = leak, sub, maxv

    def forward(self, x):
        x = F.leaky_relu(x, self.leak) if self.leak is not None else F.relu(x)
        if self.sub is not None:
            x -= self.sub
        if self.maxv is not None:
            x.clamp_max_(self.maxv)
        return x


class BatchNorm(nn.Module):
    def __init__(self, nf, mom=0.1, eps=1e-5):
        super().__init__()
        self.mom, self.eps = mom, eps
        self.mults = nn.Parameter(torch.ones(nf, 1, 1))
        self.adds = nn.Parameter(torch.zeros(nf, 1, 1))
        self.register_buffer('vars', torch.ones(1, nf, 1, 1))
        self.register_buffer('means', torch.zeros(1, nf, 1, 1))

    def update_stats(self, x):
        m = x.mean((0, 2, 3), keepdim=True)
        v = x.var((0, 2, 3), keepdim=True)
        self.means.lerp_(m, self.mom)
        self.vars.lerp_(v, self.mom)
        return m, v

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                m, v = self.update_stats(x)
        else:
            m, v = self.means, self.vars
        x = (x - m) / (v + self.eps).sqrt()
        return x * self.mults + self.adds


class Hook:
    def __init__(self, m, f):
        self.hook = m.register_forward_hook(partial(f, self))

    def remove(self):
        self.hook.remove()


class Hooks(list):
    def __init__(self, ms, f):
        super().__init__([Hook(m, f) for m in ms])

    def __enter__(self, *args):
        return self

    def __exit__(self, *args):
        self.remove()

    def remove(self):
        for h in self:
            h.remove()


def append_stats(hook, mod, inp, outp):
    if not hasattr(hook, 'stats'):
        hook.stats = ([], [], [])
    acts = outp.detach().cpu()
    hook.stats[0].append(acts.mean())
    hook.stats[1].append(acts.std())
    hook.stats[2].append(acts.abs().histc(40, 0, 10))


def conv(ni, nf, ks=3, stride=2, act=nn.ReLU, norm=None):
    layers = [nn.Conv2d(ni, nf, stride=stride, kernel_size=ks, padding=ks // 2, bias=norm is None)]
    if norm:
        layers.append(norm(nf))
    if act:
        layers.append(act())
    return nn.Sequential(*layers)


def get_model(act=nn.ReLU, nfs=(1, 8, 16, 32), norm=None):
    layers = [conv(nfs[i], nfs[i + 1], act=act, norm=norm) for i in range(len(nfs) - 1)]
    return nn.Sequential(*layers, conv(nfs[-1], 10, act=None), nn.Flatten())


def init_weights(m, leaky=0.):
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        nn.init.kaiming_normal_(m.weight, a=leaky)


class DictDataset:
    def __init__(self, n, generator):
        self.x = torch.randn(n, 1, 16, 16, generator=generator)
        self.y = ((self.x[:, :, :8].mean((1, 2, 3)) - self.x[:, :, 8:].mean((1, 2, 3))) * 12) \
            .round().long().clamp(-4, 5) + 4

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {'image': self.x[i], 'label': self.y[i]}


def collate_dict(b):
    b = default_collate(b)
    return b['image'], b['label']


def _lsuv_stats(hook, mod, inp, outp):
    acts = outp.detach().cpu()
    hook.mean = acts.mean()
    hook.std = acts.std()


def lsuv_init(model, m, m_in, xb):
    h = Hook(m, _lsuv_stats)
    with torch.no_grad():
        for _ in range(20):
            model(xb)
            if abs(h.std - 1) < 1e-3 and abs(h.mean) < 1e-3:
                break
            if m_in.bias is not None:
                m_in.bias -= h.mean
            m_in.weight.data /= h.std
    h.remove()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(42)
    data = torch.Generator().manual_seed(0)
    batches_per_epoch = 4
    dls = (DataLoader(DictDataset(16 * batches_per_epoch, data), batch_size=16, shuffle=True,
                      collate_fn=collate_dict),
           DataLoader(DictDataset(32, data), batch_size=16, collate_fn=collate_dict))
    epochs = math.ceil(args.steps / batches_per_epoch)

    act_gr = partial(GeneralRelu, leak=0.1, sub=0.4, maxv=6.)
    model = get_model(act_gr).apply(partial(init_weights, leaky=0.1))
    xb, _ = next(iter(dls[0]))
    relus = [o for o in model.modules() if isinstance(o, GeneralRelu)]
    convs = [o for o in model.modules() if isinstance(o, nn.Conv2d)]
    for relu, conv_in in zip(relus, convs):
        lsuv_init(model, relu, conv_in, xb)
    lsuv_stds = [conv_in.weight.std().item() for conv_in in convs]

    metrics = MetricsCB()
    recorder = RecorderCB(lr=lambda cb: cb.pg['lr'], mom=lambda cb: cb.pg['momentum'])
    sched = partial(lr_scheduler.OneCycleLR, max_lr=0.2, total_steps=epochs * batches_per_epoch)
    learn = Learner(model, dls, F.cross_entropy, lr=0.2,
                    cbs=[TrainCB(), metrics, BatchSchedCB(sched), recorder],
                    opt_func=partial(torch.optim.SGD, momentum=0.9))
    with Hooks([m for m in model if isinstance(m, nn.Sequential)], append_stats) as hooks:
        learn.fit(epochs)
        first_means = [float(h.stats[0][0]) for h in hooks]
        last_stds = [float(h.stats[1][-1]) for h in hooks]
        histogram = hooks[0].stats[2][0]
        dead = float(histogram[0] / histogram.sum())

    bn_model = get_model(act_gr, norm=BatchNorm).apply(partial(init_weights, leaky=0.1))
    bn_learn = Learner(bn_model, dls, F.cross_entropy, lr=0.05, cbs=[TrainCB()])
    bn_learn.fit(1, valid=False)
    running_means = bn_model[0][1].means.flatten()[:4].tolist()

    finder_model = get_model().apply(init_weights)
    finder = LRFinderCB()
    Learner(finder_model, dls, F.cross_entropy, lr=1e-3, cbs=[TrainCB()]).fit(3, cbs=[finder])

    report(metrics.train_losses[:args.steps], valid_accuracy=metrics.valid_accuracy[-1],
           lsuv_std_first=lsuv_stds[0], lsuv_std_last=lsuv_stds[-1],
           lr_peak=max(recorder.recs['lr']), lr_last=recorder.recs['lr'][-1],
           momentum_low=min(recorder.recs['mom']), first_mean=first_means[0],
           last_std=last_stds[-1], dead_fraction=dead, bn_running_mean=running_means[0],
           finder_steps=len(finder.lrs), finder_last_lr=finder.lrs[-1],
           finder_last_loss=finder.losses[-1])

if __name__ == "__main__":
    main()
