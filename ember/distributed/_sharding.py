"""PyTorch's sharding APIs under their torch names (``torch.distributed.tensor``,
``.device_mesh``, ``.fsdp``, ``._functional_collectives``), which libraries import whenever
``torch.distributed.is_available()`` (transformers' tensor and expert parallelism): the placement
types are PyTorch's values; ember shards nothing, so making a DTensor, a device mesh or an FSDP
module raises."""
import dataclasses

from ..tensor import Tensor

__all__ = ["CPUOffloadPolicy", "DTensor", "DeviceMesh", "FSDPModule", "FullyShardedDataParallel",
           "MixedPrecisionPolicy", "OffloadPolicy", "Partial", "Placement", "Replicate", "Shard",
           "compute_local_shape_and_global_offset", "distribute_tensor", "fully_shard",
           "init_device_mesh", "wait_tensor"]


def _not_provided(name):
    raise NotImplementedError(f"{name}: ember has no sharded tensors (DTensor, device meshes, "
                              f"FSDP); DistributedDataParallel is its data parallelism")


class Placement:
    """How a tensor lies along one dimension of a device mesh."""

    def is_shard(self, dim=None):
        return False

    def is_replicate(self):
        return False

    def is_partial(self, reduce_op=None):
        return False


@dataclasses.dataclass(frozen=True)
class Shard(Placement):
    """Split along tensor dimension ``dim``, one contiguous chunk per rank."""
    dim: int

    def is_shard(self, dim=None):
        return dim is None or dim == self.dim

    @staticmethod
    def local_shard_size_and_offset(curr_local_size, num_chunks, rank):
        """(size, offset) of chunk ``rank`` when ``curr_local_size`` elements split into
        ``num_chunks`` chunks of ceil(size / num_chunks); past the end a chunk is empty."""
        chunk = -(-curr_local_size // num_chunks)
        offset = min(chunk * rank, curr_local_size)
        return min(curr_local_size, offset + chunk) - offset, offset

    def __repr__(self):
        return f"Shard(dim={self.dim})"

    def __str__(self):
        return f"S({self.dim})"


@dataclasses.dataclass(frozen=True)
class _StridedShard(Placement):
    """Shard whose chunks interleave ``split_factor`` ways (nested sharding of one dim)."""
    dim: int
    split_factor: int

    def __repr__(self):
        return f"_StridedShard(dim={self.dim}, sf={self.split_factor})"

    def __str__(self):
        return f"_S({self.dim}, {self.split_factor})"


@dataclasses.dataclass(frozen=True)
class Replicate(Placement):
    """A full copy on every rank."""

    def is_replicate(self):
        return True

    def __repr__(self):
        return "Replicate()"

    def __str__(self):
        return "R"


@dataclasses.dataclass(frozen=True)
class Partial(Placement):
    """Each rank holds a partial value, combined by ``reduce_op``."""
    reduce_op: str = "sum"

    def is_partial(self, reduce_op=None):
        return reduce_op is None or reduce_op == self.reduce_op

    def __repr__(self):
        return f"Partial({self.reduce_op})"

    def __str__(self):
        return f"P({self.reduce_op})"


class DTensor(Tensor):
    """A tensor sharded over a device mesh; ember makes none (isinstance checks are False)."""

    def __new__(cls, *args, **kwargs):
        _not_provided("DTensor")

    @staticmethod
    def from_local(*args, **kwargs):
        _not_provided("DTensor.from_local")


class DeviceMesh:
    """The ranks laid out as an n-d mesh; ember makes none."""

    def __init__(self, *args, **kwargs):
        _not_provided("DeviceMesh")


def init_device_mesh(device_type, mesh_shape, *, mesh_dim_names=None, backend_override=None):
    _not_provided("init_device_mesh")


def distribute_tensor(tensor, device_mesh=None, placements=None, *, src_data_rank=0):
    _not_provided("distribute_tensor")


def compute_local_shape_and_global_offset(global_shape, mesh, placements, skip_offset=False):
    _not_provided("compute_local_shape_and_global_offset")


def wait_tensor(tensor):
    """A functional collective's result, waited for: ember's collectives return finished."""
    return tensor


def all_to_all_single_autograd(self, output_split_sizes, input_split_sizes, group, tag=""):
    _not_provided("all_to_all_single_autograd")


@dataclasses.dataclass
class OffloadPolicy:
    """FSDP2's offload setting: none."""


@dataclasses.dataclass
class CPUOffloadPolicy(OffloadPolicy):
    """FSDP2's offload of sharded parameters to the CPU."""
    pin_memory: bool = True


@dataclasses.dataclass(frozen=True)
class MixedPrecisionPolicy:
    """FSDP2's parameter, reduction and output dtypes."""
    param_dtype: object = None
    reduce_dtype: object = None
    output_dtype: object = None
    cast_forward_inputs: bool = True


class FSDPModule:
    """The class FSDP2's fully_shard mixes into a module; no ember module is one."""


def fully_shard(module, **kwargs):
    _not_provided("fully_shard")


class FullyShardedDataParallel:
    """FSDP1's wrapper; ember makes none."""

    def __init__(self, *args, **kwargs):
        _not_provided("FullyShardedDataParallel")
