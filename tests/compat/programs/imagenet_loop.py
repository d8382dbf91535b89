"""The training loop of pytorch/examples' imagenet/main.py (AverageMeter, ProgressMeter,
``accuracy`` with top-k) around a small torchvision-style ResNet (zero-initialised residual
norms), plus the idioms popular repositories add to it: decay/no-decay parameter groups, SGD
with Nesterov momentum, a warm-up ``LambdaLR`` chained to ``CosineAnnealingLR`` by
``SequentialLR``, label smoothing, mixup and cutmix written by hand (NumPy draws), gradient
accumulation with clipping, an EMA of the weights through ``AveragedModel`` with
``get_ema_multi_avg_fn``, and the backend flags set on the way. Everything random in torch
comes from ``torch.manual_seed``."""
import argparse

import numpy as np
import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, TensorDataset

from common import report


class AverageMeter(object):
    def __init__(self, name, fmt=':f'):
        self.name = name
        self.fmt = fmt
        self.reset()

    def reset(self):
        self.val = 0
        self.avg = 0
        self.sum = 0
        self.count = 0

    def update(self, val, n=1):
        self.val = val
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count

    def __str__(self):
        fmtstr = '{name} {val' + self.fmt + '} ({avg' + self.fmt + '})'
        return fmtstr.format(**self.__dict__)


class ProgressMeter(object):
    def __init__(self, num_batches, meters, prefix=""):
        num_digits = len(str(num_batches // 1))
        fmt = '{:' + str(num_digits) + 'd}'
        self.batch_fmtstr = '[' + fmt + '/' + fmt.format(num_batches) + ']'
        self.meters = meters
        self.prefix = prefix

    def display(self, batch):
        entries = [self.prefix + self.batch_fmtstr.format(batch)]
        entries += [str(meter) for meter in self.meters]
        return '\t'.join(entries)


def accuracy(output, target, topk=(1,)):
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(correct_k.mul_(100.0 / batch_size))
        return res


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, num_classes=10, width=8):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(width)
        self.layer2 = self._make_layer(width * 2, stride=2)
        self.layer3 = self._make_layer(width * 4, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 4, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, planes, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes))
        layer = nn.Sequential(BasicBlock(self.inplanes, planes, stride, downsample))
        self.inplanes = planes
        return layer

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def rand_bbox(size, lam):
    W, H = size[2], size[3]
    cut_rat = np.sqrt(1. - lam)
    cut_w, cut_h = int(W * cut_rat), int(H * cut_rat)
    cx, cy = np.random.randint(W), np.random.randint(H)
    return (np.clip(cx - cut_w // 2, 0, W), np.clip(cy - cut_h // 2, 0, H),
            np.clip(cx + cut_w // 2, 0, W), np.clip(cy + cut_h // 2, 0, H))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
    model = ResNet()
    if hasattr(torch, "compile") and torch.cuda.is_available():
        model = torch.compile(model)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=0.05, momentum=0.9, nesterov=True)
    accumulation, warmup = 2, 3
    total_updates = args.steps // accumulation
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [
        torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (step + 1) / warmup),
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_updates - warmup,
                                                   eta_min=1e-4)], milestones=[warmup])
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    labels = torch.randint(0, 10, (64,))
    images = torch.randn(64, 3, 16, 16) * 0.5
    images[:, 0] += labels.view(-1, 1, 1).float() / 5  # the class shows in the red channel
    loader = DataLoader(TensorDataset(images, labels), batch_size=8, shuffle=True,
                        drop_last=True)
    losses = []
    top1 = AverageMeter('Acc@1', ':6.2f')
    top5 = AverageMeter('Acc@5', ':6.2f')
    meter = AverageMeter('Loss', ':.4e')
    progress = ProgressMeter(len(loader), [meter, top1, top5], prefix="Epoch: [0]")
    line = ""
    optimizer.zero_grad(set_to_none=True)
    while len(losses) < args.steps:
        model.train()
        for i, (x, y) in enumerate(loader):
            r = np.random.rand()
            if r < 0.3:
                lam = np.random.beta(1.0, 1.0)
                index = torch.randperm(x.size(0))
                x = lam * x + (1 - lam) * x[index, :]
                out = model(x)
                loss = lam * criterion(out, y) + (1 - lam) * criterion(out, y[index])
            elif r < 0.6:
                lam = np.random.beta(1.0, 1.0)
                rand_index = torch.randperm(x.size()[0])
                bbx1, bby1, bbx2, bby2 = rand_bbox(x.size(), lam)
                x = x.clone()
                x[:, :, bbx1:bbx2, bby1:bby2] = x[rand_index, :, bbx1:bbx2, bby1:bby2]
                lam = 1 - ((bbx2 - bbx1) * (bby2 - bby1) / (x.size()[-1] * x.size()[-2]))
                out = model(x)
                loss = criterion(out, y) * lam + criterion(out, y[rand_index]) * (1. - lam)
            else:
                out = model(x)
                loss = criterion(out, y)
            acc1, acc5 = accuracy(out, y, topk=(1, 5))
            meter.update(loss.item(), x.size(0))
            top1.update(acc1[0], x.size(0))
            top5.update(acc5[0], x.size(0))
            (loss / accumulation).backward()
            if (i + 1) % accumulation == 0:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm=2.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                ema.update_parameters(model)
                scheduler.step()
            losses.append(loss.item())
            line = progress.display(i + 1)
            if len(losses) == args.steps:
                break
    model.eval()
    ema.eval()
    with torch.no_grad():
        ema_top1, = accuracy(ema(images), labels)
        model_top1, = accuracy(model(images), labels)
    report(losses, progress=line, last_lr=scheduler.get_last_lr()[0],
           ema_top1=ema_top1.item(), model_top1=model_top1.item(),
           n_averaged=ema.n_averaged.item(), precision=torch.get_float32_matmul_precision())


if __name__ == "__main__":
    main()
