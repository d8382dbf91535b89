"""Train torchvision's ResNet-18 on CIFAR-shaped images with ember, the torchvision way.

The data is FakeData (random CIFAR-sized images, no download) unless --data names an ImageFolder
(root/<class>/<image>). A few SGD steps with the standard CIFAR augmentation, then evaluation
under ``ember.evaluating`` (eval mode and no_grad together, every module's mode restored).

    python examples/cifar_resnet.py --steps 20
    python examples/cifar_resnet.py --data path/to/images --image-size 32
"""
import argparse
import time

import ember
from ember import nn
from ember.data import DataLoader
from ember.vision import datasets, models, transforms

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def make_datasets(data, image_size, train_size, test_size):
    train_transform = transforms.Compose([
        transforms.RandomCrop(image_size, padding=image_size // 8),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
    ])
    test_transform = transforms.Compose([
        transforms.Resize(image_size),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
    ])
    if data is not None:
        return (datasets.ImageFolder(data, transform=train_transform),
                datasets.ImageFolder(data, transform=test_transform))
    shape = (3, image_size, image_size)
    return (datasets.FakeData(train_size, shape, num_classes=10, transform=train_transform),
            datasets.FakeData(test_size, shape, num_classes=10, transform=test_transform,
                              random_offset=train_size))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="an ImageFolder root (default: FakeData)")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    ember.manual_seed(args.seed)
    train_set, test_set = make_datasets(args.data, args.image_size,
                                        args.steps * args.batch_size, 2 * args.batch_size)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=args.batch_size)
    num_classes = len(train_set.classes) if args.data is not None else 10
    model = models.resnet18(num_classes=num_classes)
    optimizer = ember.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    model.train()
    for step, (images, labels) in enumerate(train_loader):
        if step == args.steps:
            break
        loss = loss_fn(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"step {step + 1}/{args.steps}  loss {loss.item():.4f}", flush=True)

    correct = 0
    seen = 0
    with ember.evaluating(model):
        for images, labels in test_loader:
            correct += (model(images).argmax(dim=1) == labels).sum().item()
            seen += len(labels)
    accuracy = correct / seen
    print(f"eval accuracy {accuracy:.4f} on {seen} images "
          f"({time.perf_counter() - start:.1f} s)")
    return accuracy


if __name__ == "__main__":
    main()
