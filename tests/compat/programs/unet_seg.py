"""A small U-Net for segmentation in the style of the popular Pytorch-UNet repository: double
convolutions with BatchNorm, max-pool downsampling, ConvTranspose2d upsampling padded with F.pad
to the skip connection, cross-entropy plus a soft multiclass Dice loss, SGD with Nesterov momentum
and foreach, gradient clipping, parameter groups built from a flag set on the parameters themselves,
a checkpoint round trip through torch.save/torch.load, and a patch view made by Tensor.unfold."""
import argparse
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import init_from_numpy, report


class DoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.double_conv(x)


class Up(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        diff_y = x2.size()[2] - x1.size()[2]
        diff_x = x2.size()[3] - x1.size()[3]
        x1 = F.pad(x1, [diff_x // 2, diff_x - diff_x // 2, diff_y // 2, diff_y - diff_y // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class UNet(nn.Module):
    def __init__(self, n_channels, n_classes, width=8):
        super().__init__()
        self.inc = DoubleConv(n_channels, width)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(width, 2 * width))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(2 * width, 4 * width))
        self.up1 = Up(4 * width, 2 * width)
        self.up2 = Up(2 * width, width)
        self.outc = nn.Conv2d(width, n_classes, kernel_size=1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x = self.up1(self.down2(x2), x2)
        return self.outc(self.up2(x, x1))


def dice_coeff(input, target, epsilon=1e-6):
    inter = 2 * (input * target).sum(dim=(-1, -2, -3))
    sets_sum = input.sum(dim=(-1, -2, -3)) + target.sum(dim=(-1, -2, -3))
    sets_sum = torch.where(sets_sum == 0, inter, sets_sum)
    return ((inter + epsilon) / (sets_sum + epsilon)).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    generator = np.random.default_rng(args.seed)
    images = torch.from_numpy(generator.standard_normal((4, 3, 17, 19)).astype(np.float32))
    rows, columns = torch.meshgrid(torch.arange(17), torch.arange(19), indexing="ij")
    masks = ((rows - 8) ** 2 + (columns - 9) ** 2 < 30).long().unsqueeze(0).repeat(4, 1, 1)
    masks[1:, :, :5] = 2
    images[:, 0] += masks.float()  # the classes show in the first channel

    model = UNet(3, 3)
    init_from_numpy(model, args.seed, scale=0.2)
    for parameter in model.parameters():
        if parameter.ndim <= 1:
            parameter.no_weight_decay = True
    decay = [p for p in model.parameters() if not getattr(p, "no_weight_decay", False)]
    no_decay = [p for p in model.parameters() if getattr(p, "no_weight_decay", False)]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 1e-4},
                                     {"params": no_decay, "weight_decay": 0.0}],
                                lr=0.05, momentum=0.9, nesterov=True, foreach=True)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for _ in range(args.steps):
        model.train()
        masks_pred = model(images)
        loss = criterion(masks_pred, masks)
        loss += 1 - dice_coeff(F.softmax(masks_pred, dim=1).float(),
                               F.one_hot(masks, 3).permute(0, 3, 1, 2).float())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored = UNet(3, 3)
    restored.load_state_dict(torch.load(buffer))
    model.eval()
    restored.eval()
    with torch.no_grad():
        logits = model(images)
        prediction = logits.argmax(dim=1)
        same = torch.equal(restored(images), logits)
    best = torch.tensor([3, 9, 1, 7]).topk(2)
    patches = images.unfold(2, 4, 4).unfold(3, 4, 4)
    report(losses, pixel_accuracy=(prediction == masks).float().mean().item(), reloaded_same=same,
           groups=str([len(group["params"]) for group in optimizer.param_groups]),
           topk=repr(best).replace("torch.", ""), patch_strides=str(patches.stride()),
           batches_tracked=int(model.inc.double_conv[1].num_batches_tracked))


if __name__ == "__main__":
    main()
