"""The single source of randomness: ``Generator`` objects and the default one ``manual_seed`` resets."""
import contextlib

import numpy as np

_DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed; any fixed value would do.


class Generator:
    """A seedable random stream (PCG64); pass ``generator=`` to factories, samplers and dropout."""

    __slots__ = ("_numpy", "_initial_seed")

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: ember only has the 'cpu' device, got {device!r}")
        self._initial_seed = _DEFAULT_SEED
        self._numpy = np.random.Generator(np.random.PCG64(_DEFAULT_SEED))

    def manual_seed(self, seed):
        """Reseed and return self (torch.Generator.manual_seed)."""
        seed = int(seed)
        if seed < -0x8000_0000_0000_0000 or seed > 0xFFFF_FFFF_FFFF_FFFF:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} is out of range")
        seed &= 0xFFFF_FFFF_FFFF_FFFF
        self._initial_seed = seed
        self._numpy = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self):
        """Reseed from OS entropy and return the new seed."""
        new_seed = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        """The stream's state as a JSON-able dict (checkpoints store it without pickle)."""
        state = self._numpy.bit_generator.state
        return {"bit_generator": state["bit_generator"],
                "state": {"state": str(state["state"]["state"]), "inc": str(state["state"]["inc"])},
                "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"]),
                "initial_seed": str(self._initial_seed)}

    def set_state(self, state):
        """Restore a state produced by ``get_state``."""
        if not isinstance(state, dict) or state.get("bit_generator") != "PCG64":
            raise ValueError(f"Generator.set_state: expected a dict from get_state(), got {state!r}")
        self._numpy.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int(state["state"]["state"]), "inc": int(state["state"]["inc"])},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}
        self._initial_seed = int(state.get("initial_seed", self._initial_seed))
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator, the one every random function uses unless given another."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type="cuda"):
    """The default generator's state is restored when the block ends (``torch.random.fork_rng``):
    draws inside it leave the stream outside as it was. ``devices`` and ``device_type`` name
    accelerators, which ember does not have."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def numpy_generator(generator=None):
    """The NumPy stream behind ``generator`` (the default one when None)."""
    if generator is None:
        return default_generator._numpy
    if not isinstance(generator, Generator):
        raise TypeError(f"expected an ember.Generator, got {type(generator).__name__}")
    return generator._numpy
