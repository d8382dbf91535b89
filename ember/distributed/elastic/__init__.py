"""``torch.distributed.elastic``: the parts that training scripts import at module level."""
