"""Jacobian regularization from facebookresearch/jacobian_regularizer, jacobian/jacobian.py and
examples/mnist.py (MIT License, Copyright (c) Facebook, Inc. and its affiliates), as written
there: JacobianReg's random projections (torch.addcdiv in its deprecated value-first form) and
its exact n=-1 form, the Jacobian-vector product by torch.autograd.grad(create_graph=True)
on the input (``data.requires_grad = True``), the MLP with xavier init, SGD with momentum and
weight decay. Edits: the two files in one, docstrings shortened; MNIST is 160 seeded random
28x28 images whose labels a fixed random projection decides, in shuffled DataLoaders of 32;
epochs until ``--steps`` batches, each step's full loss reported. Everything random comes from
``torch.manual_seed``."""
from __future__ import division
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from common import report


class JacobianReg(nn.Module):
    def __init__(self, n=1):
        assert n == -1 or n > 0
        self.n = n
        super(JacobianReg, self).__init__()

    def forward(self, x, y):
        B,C = y.shape
        if self.n == -1:
            num_proj = C
        else:
            num_proj = self.n
        J2 = 0
        for ii in range(num_proj):
            if self.n == -1:
                v=torch.zeros(B,C)
                v[:,ii]=1
            else:
                v = self._random_vector(C=C,B=B)
            if x.is_cuda:
                v = v.to(x.device)
            Jv = self._jacobian_vector_product(y, x, v, create_graph=True)
            J2 += C*torch.norm(Jv)**2 / (num_proj*B)
        R = (1/2)*J2
        return R

    def _random_vector(self, C, B):
        if C == 1:
            return torch.ones(B)
        v=torch.randn(B,C)
        arxilirary_zero=torch.zeros(B,C)
        vnorm=torch.norm(v, 2, 1,True)
        v=torch.addcdiv(arxilirary_zero, 1.0, v, vnorm)
        return v

    def _jacobian_vector_product(self, y, x, v, create_graph=False):
        flat_y = y.reshape(-1)
        flat_v = v.reshape(-1)
        grad_x, = torch.autograd.grad(flat_y, x, flat_v,
                                        retain_graph=True,
                                        create_graph=create_graph)
        return grad_x


class MLP(nn.Module):
    def __init__(self, in_channel=1, im_size=28, num_classes=10,
                 fc_channel1=200, fc_channel2=200):
        super(MLP, self).__init__()
        compression=in_channel*im_size*im_size
        self.compression=compression
        self.fc1 = nn.Linear(compression, fc_channel1)
        self.fc2 = nn.Linear(fc_channel1, fc_channel2)
        self.fc3 = nn.Linear(fc_channel2, num_classes)
        nn.init.xavier_uniform_(self.fc1.weight)
        nn.init.xavier_uniform_(self.fc2.weight)
        nn.init.xavier_uniform_(self.fc3.weight)

    def forward(self, x):
        x = x.view(-1, self.compression)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

def eval(device, model, loader, criterion, lambda_JR):
    correct = 0
    total = 0
    loss_super_avg = 0
    loss_JR_avg = 0
    loss_avg = 0
    reg_full = JacobianReg(n=-1)
    for data, targets in loader:
        data = data.to(device)
        data.requires_grad = True # this is essential!
        targets = targets.to(device)
        output = model(data)
        _, predicted = torch.max(output, 1)
        correct += (predicted == targets).sum().item()
        total += targets.size(0)
        loss_super = criterion(output, targets) # supervised loss
        loss_JR = reg_full(data, output) # Jacobian regularization
        loss = loss_super + lambda_JR*loss_JR # full loss
        loss_super_avg += loss_super.item()*targets.size(0)
        loss_JR_avg += loss_JR.item()*targets.size(0)
        loss_avg += loss.item()*targets.size(0)
    loss_super_avg /= total
    loss_JR_avg /= total
    loss_avg /= total
    return correct, total, loss_super.item(), loss_JR.item(), loss.item()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=20, help='training batches')
    steps = parser.parse_args().steps
    seed = 1
    batch_size = 32
    lambda_JR = .1
    n_proj = 1
    torch.manual_seed(seed)
    device = torch.device("cpu")
    images = torch.randn(160, 1, 28, 28)
    labels = (images.view(160, -1) @ torch.randn(784, 10)).argmax(1)
    trainset = torch.utils.data.TensorDataset(images[:128], labels[:128])
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True)
    testset = torch.utils.data.TensorDataset(images[128:], labels[128:])
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=True)
    model = MLP()
    model.to(device)
    criterion = nn.CrossEntropyLoss()
    reg = JacobianReg(n=n_proj)  # if n_proj = 1, the argument is unnecessary
    optimizer = optim.SGD(model.parameters(),
        lr=0.01, momentum=0.9, weight_decay=5e-4
    )
    correct_i, total, loss_super_i, loss_JR_i, loss_i = eval(
        device, model, testloader, criterion, lambda_JR
    )
    losses = []
    while len(losses) < steps:
        for idx, (data, target) in enumerate(trainloader):
            data, target = data.to(device), target.to(device)
            data.requires_grad = True  # this is essential!
            optimizer.zero_grad()
            output = model(data)  # forward pass
            loss_super = criterion(output, target)  # supervised loss
            loss_JR = reg(data, output)  # Jacobian regularization
            loss = loss_super + lambda_JR*loss_JR  # full loss
            loss.backward()  # computes gradients
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
    correct_f, total, loss_super_f, loss_JR_f, loss_f = eval(
        device, model, testloader, criterion, lambda_JR
    )
    report(losses, correct_before=correct_i, correct_after=correct_f, total=total,
           supervised_before=loss_super_i, jacobian_before=loss_JR_i, loss_before=loss_i,
           supervised_after=loss_super_f, jacobian_after=loss_JR_f, loss_after=loss_f)


if __name__ == '__main__':
    main()
