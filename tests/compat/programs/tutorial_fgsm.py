"""The fast gradient sign attack of pytorch/tutorials (BSD 3-Clause License, Copyright (c)
2017-2022, Pytorch contributors), beginner_source/fgsm_tutorial.py: the LeNet with Dropout2d,
``fgsm_attack`` and the per-example attack loop (``data.requires_grad = True``,
``data.grad.data``, ``max(1, keepdim=True)``, ``.item()`` comparisons) as written, except: the
pretrained MNIST weights are replaced by this file's SGD training (the number of steps is an
argument, its losses are reported) on seeded images whose class brightens a band of rows, and
the adversarial images are summarised instead of plotted; in float64, as the attack's accuracy
counts flip on float32 rounding that 20 fast SGD steps amplify. Everything random comes from
``torch.manual_seed``."""
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from common import report

torch.set_default_dtype(torch.float64)
torch.manual_seed(42)
parser = argparse.ArgumentParser()
parser.add_argument('--steps', type=int, default=20)
steps = parser.parse_args().steps
epsilons = [0, .05, .1, .15, .2, .25, .3]


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


labels = torch.randint(0, 10, (80,))
images = torch.rand(80, 1, 28, 28) * 0.3
for index, label in enumerate(labels.tolist()):
    images[index, 0, 2 * label + 4:2 * label + 8] += 0.7
test_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(images[:40], labels[:40]), batch_size=1, shuffle=True)
device = torch.device("cpu")
model = Net().to(device)
optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
losses = []
for step in range(steps):
    optimizer.zero_grad()
    loss = F.nll_loss(model(images), labels)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
model.eval()


# FGSM attack code
def fgsm_attack(image, epsilon, data_grad):
    # Collect the element-wise sign of the data gradient
    sign_data_grad = data_grad.sign()
    # Create the perturbed image by adjusting each pixel of the input image
    perturbed_image = image + epsilon*sign_data_grad
    # Adding clipping to maintain [0,1] range
    perturbed_image = torch.clamp(perturbed_image, 0, 1)
    # Return the perturbed image
    return perturbed_image


def test( model, device, test_loader, epsilon ):

    # Accuracy counter
    correct = 0
    adv_examples = []

    # Loop over all examples in test set
    for data, target in test_loader:

        # Send the data and label to the device
        data, target = data.to(device), target.to(device)

        # Set requires_grad attribute of tensor. Important for Attack
        data.requires_grad = True

        # Forward pass the data through the model
        output = model(data)
        init_pred = output.max(1, keepdim=True)[1] # get the index of the max log-probability

        # If the initial prediction is wrong, dont bother attacking, just move on
        if init_pred.item() != target.item():
            continue

        # Calculate the loss
        loss = F.nll_loss(output, target)

        # Zero all existing gradients
        model.zero_grad()

        # Calculate gradients of model in backward pass
        loss.backward()

        # Collect datagrad
        data_grad = data.grad.data

        # Call FGSM Attack
        perturbed_data = fgsm_attack(data, epsilon, data_grad)

        # Re-classify the perturbed image
        output = model(perturbed_data)

        # Check for success
        final_pred = output.max(1, keepdim=True)[1] # get the index of the max log-probability
        if final_pred.item() == target.item():
            correct += 1
            # Special case for saving 0 epsilon examples
            if (epsilon == 0) and (len(adv_examples) < 5):
                adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                adv_examples.append( (init_pred.item(), final_pred.item(), adv_ex) )
        else:
            # Save some adv examples for visualization later
            if len(adv_examples) < 5:
                adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                adv_examples.append( (init_pred.item(), final_pred.item(), adv_ex) )

    # Calculate final accuracy for this epsilon
    final_acc = correct/float(len(test_loader))
    print("Epsilon: {}\tTest Accuracy = {} / {} = {}".format(epsilon, correct, len(test_loader), final_acc))

    # Return the accuracy and an adversarial example
    return final_acc, adv_examples


accuracies = []
examples = []

# Run test for each epsilon
for eps in epsilons:
    acc, ex = test(model, device, test_loader, eps)
    accuracies.append(acc)
    examples.append(ex)

report(losses, accuracies=" ".join(str(accuracy) for accuracy in accuracies),
       examples=" ".join(f"{initial}->{final}:{image.sum():.6f}"
                         for initial, final, image in examples[-1]))
