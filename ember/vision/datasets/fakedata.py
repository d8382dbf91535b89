"""FakeData: random images, the same ones for the same index, without touching the global
random stream."""
from ... import _dtype
from ..._factories import randint, randn
from ..._random import get_rng_state, manual_seed, set_rng_state
from ..transforms import functional as F
from .vision import VisionDataset


class FakeData(VisionDataset):
    """``size`` samples of a standard-normal image of ``image_size`` (C, H, W) turned into a PIL
    image, with a target in [0, num_classes). Sample i is drawn after seeding the default
    generator with ``i + random_offset``; the generator's state is restored afterwards."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        state = get_rng_state()
        manual_seed(index + self.random_offset)
        image = randn(*self.image_size)
        target = randint(0, self.num_classes, size=(1,), dtype=_dtype.int64)[0]
        set_rng_state(state)
        image, target = self._apply_transforms(F.to_pil_image(image), target)
        return image, target.item()

    def __len__(self):
        return self.size
