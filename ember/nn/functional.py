"""The functional forms of ember.nn's layers (PyTorch's torch.nn.functional, imported as F).

Mode-dependent functions take ``training`` as an argument and never read a global mode.
"""
# ---- conv, pooling, normalization, losses (ember/ops/...) ----

