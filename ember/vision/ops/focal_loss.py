"""torchvision.ops.sigmoid_focal_loss: RetinaNet's loss for dense detection."""
from ... import nn
from ...ops import sigmoid

__all__ = ["sigmoid_focal_loss"]


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Invalid Value for arg 'reduction': '{reduction} \n Supported reduction "
                     f"modes: 'none', 'mean', 'sum'")


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """Binary cross-entropy on logits scaled by (1 - p_t) ** gamma, so that easy examples
    weigh little, and by alpha_t (alpha for positives, 1 - alpha for negatives) unless
    alpha < 0 (Lin et al., Focal Loss for Dense Object Detection)."""
    probabilities = sigmoid(inputs)
    cross_entropy = nn.functional.binary_cross_entropy_with_logits(inputs, targets,
                                                                   reduction="none")
    p_t = probabilities * targets + (1 - probabilities) * (1 - targets)
    loss = cross_entropy * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return _reduce(loss, reduction)
