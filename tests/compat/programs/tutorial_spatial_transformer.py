"""The spatial transformer network of pytorch/tutorials (BSD 3-Clause License, Copyright (c)
2017-2022, Pytorch contributors), intermediate_source/spatial_transformer_tutorial.py: the model,
its identity-initialised localisation head (``.bias.data = torch.DoubleTensor(...)``), affine_grid
and grid_sample with their default-alignment warnings, the implicit-dim log_softmax, and the
legacy ``Variable(..., volatile=True)`` and ``size_average=False`` test loop as written, except:
MNIST is replaced by seeded 28x28 images whose class brightens a band of rows, ``loss.data[0]``
by ``loss.item()`` (0-d), no workers, no plotting, the number of steps is an argument and the
losses are reported; in float64 (hence DoubleTensor for FloatTensor): points on pixel centres sit
on the bilinear gradient's kinks, where float32 rounding (PyTorch's own varies with its thread
count) flips cells. Everything random comes from ``torch.manual_seed``."""
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.autograd import Variable
from common import report

torch.set_default_dtype(torch.float64)
torch.manual_seed(0)
parser = argparse.ArgumentParser()
parser.add_argument('--steps', type=int, default=20)
steps = parser.parse_args().steps


def synthetic(count):
    labels = torch.randint(0, 10, (count,))
    images = torch.randn(count, 1, 28, 28) * 0.5
    for index, label in enumerate(labels.tolist()):
        images[index, 0, 2 * label + 4:2 * label + 8] += 1.5
    return torch.utils.data.TensorDataset(images, labels)


train_loader = torch.utils.data.DataLoader(synthetic(256), batch_size=32, shuffle=True)
test_loader = torch.utils.data.DataLoader(synthetic(64), batch_size=32, shuffle=True)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

        # Spatial transformer localization-network
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )

        # Regressor for the 3 * 2 affine matrix
        self.fc_loc = nn.Sequential(
            nn.Linear(10 * 3 * 3, 32),
            nn.ReLU(True),
            nn.Linear(32, 3 * 2)
        )

        # Initialize the weights/bias with identity transformation
        self.fc_loc[2].weight.data.fill_(0)
        self.fc_loc[2].bias.data = torch.DoubleTensor([1, 0, 0, 0, 1, 0])

    # Spatial transformer network forward function
    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)

        grid = F.affine_grid(theta, x.size())
        x = F.grid_sample(x, grid)

        return x

    def forward(self, x):
        # transform the input
        x = self.stn(x)

        # Perform the usual forward pass
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x)


model = Net()
optimizer = optim.SGD(model.parameters(), lr=0.01)
losses = []


def train(epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        if len(losses) == steps:
            return
        data, target = Variable(data), Variable(target)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


def test():
    model.eval()
    test_loss = 0
    correct = 0
    for data, target in test_loader:
        data, target = Variable(data, volatile=True), Variable(target)
        output = model(data)

        # sum up batch loss
        test_loss += F.nll_loss(output, target, size_average=False).item()
        # get the index of the max log-probability
        pred = output.data.max(1, keepdim=True)[1]
        correct += pred.eq(target.data.view_as(pred)).cpu().sum()

    test_loss /= len(test_loader.dataset)
    return test_loss, int(correct)


epoch = 1
while len(losses) < steps:
    train(epoch)
    epoch += 1
test_loss, correct = test()
with torch.no_grad():
    theta = model.fc_loc(model.localization(next(iter(test_loader))[0]).view(-1, 90))
report(losses, test_loss=test_loss, correct=correct, theta=theta.sum().item())
