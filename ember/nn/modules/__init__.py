"""The layer classes of ember.nn."""
from .activation import (  # noqa: F401
    ELU, GELU, SELU, Hardtanh, LeakyReLU, LogSoftmax, Mish, ReLU, ReLU6, Sigmoid, SiLU, Softmax,
    Softplus, Tanh)
from .container import (  # noqa: F401
    Container, ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential)
from .dropout import (  # noqa: F401
    AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout)
from .flatten import Flatten, Unflatten  # noqa: F401
from .linear import Bilinear, Identity, Linear  # noqa: F401
from .module import Module  # noqa: F401
from .sparse import Embedding  # noqa: F401

# ---- conv, pooling, normalization, losses (nn part 2) ----
from .batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d  # noqa: F401,E402
from .conv import (  # noqa: F401,E402
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
from .loss import (  # noqa: F401,E402
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
    NLLLoss, SmoothL1Loss)
from .normalization import GroupNorm, LayerNorm, RMSNorm  # noqa: F401,E402
from .pooling import (  # noqa: F401,E402
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
    AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d)

# ---- recurrent layers and attention ----
from .attention import MultiheadAttention, NonDynamicallyQuantizableLinear  # noqa: F401,E402
from .rnn import (  # noqa: F401,E402
    GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase)

# ---- more activations, distances, pixel shuffle (nn breadth) ----
from .activation import (  # noqa: F401,E402
    CELU, GLU, Hardsigmoid, Hardswish, LogSigmoid, PReLU, Softmax2d, Softmin, Softsign,
    Tanhshrink, Threshold)
from .distance import CosineSimilarity, PairwiseDistance  # noqa: F401,E402
from .pixelshuffle import PixelShuffle, PixelUnshuffle  # noqa: F401,E402
from .loss import (  # noqa: F401,E402
    CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, MarginRankingLoss,
    MultiLabelSoftMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss)
from .padding import (  # noqa: F401,E402
    CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d,
    ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d)
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401,E402
from .normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401,E402
from .activation import Hardshrink, Softshrink  # noqa: F401,E402
from .padding import (  # noqa: F401,E402
    CircularPad3d, ReflectionPad3d, ReplicationPad3d, ZeroPad3d)
from .pixelshuffle import ChannelShuffle  # noqa: F401,E402
from .fold import Fold, Unfold  # noqa: F401,E402
from .loss import (  # noqa: F401,E402
    CTCLoss, MultiLabelMarginLoss, MultiMarginLoss, TripletMarginWithDistanceLoss)
from .activation import RReLU  # noqa: F401,E402
from .normalization import CrossMapLRN2d, LocalResponseNorm  # noqa: F401,E402
from .sparse import EmbeddingBag  # noqa: F401,E402
from .pooling import LPPool1d, LPPool2d, LPPool3d  # noqa: F401,E402
from .pooling import AdaptiveMaxPool3d  # noqa: F401,E402
from .pooling import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401,E402
from .loss import NLLLoss2d  # noqa: F401,E402
from .adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: F401,E402
from .unpooling import MaxUnpool1d, MaxUnpool2d, MaxUnpool3d  # noqa: F401,E402
from .lazy import (  # noqa: F401,E402
    LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d, LazyConv3d,
    LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
    LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear, LazyModuleMixin)
from .transformer import (  # noqa: F401,E402
    Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer)
from .loss import LinearCrossEntropyLoss  # noqa: F401,E402
from .linear_cross_entropy_options import LinearCrossEntropyOptions  # noqa: F401,E402
from .utils import factory_kwargs  # noqa: F401,E402
