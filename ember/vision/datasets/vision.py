"""The base of the vision datasets: a root folder and the transforms applied per sample."""
import os

from ...data import Dataset


class VisionDataset(Dataset):
    """``root`` plus ``transform`` (on the image), ``target_transform`` (on the target) or
    ``transforms`` (on both), as torchvision's VisionDataset."""

    _repr_indent = 4

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        has_separate = transform is not None or target_transform is not None
        if transforms is not None and has_separate:
            raise ValueError("Only transforms or transform/target_transform can be passed as "
                             "argument")
        self.transform = transform
        self.target_transform = target_transform
        if has_separate:
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def _download_or_find(self, download, found, missing):
        """``download()`` when asked, then torchvision's RuntimeError (``missing`` and the hint)
        unless ``found()``."""
        if download:
            self.download()
        if not found():
            raise RuntimeError(f"{missing}. You can use download=True to download it")

    def _apply_transforms(self, image, target):
        if self.transforms is None:
            return image, target
        return self.transforms(image, target)

    def extra_repr(self):
        return ""

    def __repr__(self):
        body = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transforms is not None:
            body += repr(self.transforms).splitlines()
        return "\n".join([f"Dataset {self.__class__.__name__}"]
                         + [" " * self._repr_indent + line for line in body])


class StandardTransform:
    """``transform`` on the input and ``target_transform`` on the target."""

    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, image, target):
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self):
        lines = [self.__class__.__name__]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        return "\n".join(lines)
