"""Neural-network building blocks: Parameter, Module, layers, containers, init and functional."""
from .parameter import Parameter  # noqa: F401
from .modules import (  # noqa: F401
    ELU, GELU, SELU, AlphaDropout, Bilinear, Dropout, Dropout1d, Dropout2d, Dropout3d, Embedding,
    FeatureAlphaDropout, Flatten, Hardtanh, Identity, LeakyReLU, Linear, LogSoftmax, Mish, Module,
    ModuleDict, ModuleList, ParameterDict, ParameterList, ReLU, ReLU6, Sequential, Sigmoid, SiLU,
    Softmax, Softplus, Tanh, Unflatten)

# ---- conv, pooling, normalization, losses (nn part 2) ----
from .modules import (  # noqa: F401,E402
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
    AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, AvgPool3d, BatchNorm1d, BatchNorm2d, BatchNorm3d,
    BCELoss, BCEWithLogitsLoss, Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
    ConvTranspose3d, CrossEntropyLoss, GroupNorm, HuberLoss, KLDivLoss, L1Loss, LayerNorm,
    MaxPool1d, MaxPool2d, MaxPool3d, MSELoss, NLLLoss, RMSNorm, SmoothL1Loss)

# ---- recurrent layers and attention ----
from .modules import (  # noqa: F401,E402
    GRU, LSTM, RNN, GRUCell, LSTMCell, MultiheadAttention, RNNBase, RNNCell, RNNCellBase)

# ---- more activations, distances, pixel shuffle (nn breadth) ----
from .modules import (  # noqa: F401,E402
    CELU, GLU, CosineSimilarity, Hardsigmoid, Hardswish, LogSigmoid, PairwiseDistance,
    PixelShuffle, PixelUnshuffle, PReLU, Softmax2d, Softmin, Softsign, Tanhshrink, Threshold)
from .modules import (  # noqa: F401,E402
    CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, MarginRankingLoss,
    MultiLabelSoftMarginLoss, PoissonNLLLoss, SoftMarginLoss, TripletMarginLoss)
from .modules import (  # noqa: F401,E402
    CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d,
    ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d)
from .modules import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d  # noqa: F401,E402
from .modules import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d  # noqa: F401,E402
from .modules import (  # noqa: F401,E402
    ChannelShuffle, CircularPad3d, Hardshrink, ReflectionPad3d, ReplicationPad3d, Softshrink,
    ZeroPad3d)
from .modules import Fold, Unfold  # noqa: F401,E402
from .modules import (  # noqa: F401,E402
    CTCLoss, MultiLabelMarginLoss, MultiMarginLoss, TripletMarginWithDistanceLoss)
from .modules import Container, CrossMapLRN2d, LocalResponseNorm, RReLU  # noqa: F401,E402
from .modules import factory_kwargs  # noqa: F401,E402
from .modules import EmbeddingBag  # noqa: F401,E402
from .modules import LinearCrossEntropyLoss, LinearCrossEntropyOptions  # noqa: F401,E402
from .modules import LPPool1d, LPPool2d, LPPool3d  # noqa: F401,E402
from .modules import AdaptiveMaxPool3d, NLLLoss2d  # noqa: F401,E402
from .modules import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401,E402
from .modules import AdaptiveLogSoftmaxWithLoss  # noqa: F401,E402
from .modules import MaxUnpool1d, MaxUnpool2d, MaxUnpool3d  # noqa: F401,E402
from .modules import (  # noqa: F401,E402
    LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d, LazyConv2d, LazyConv3d,
    LazyConvTranspose1d, LazyConvTranspose2d, LazyConvTranspose3d, LazyInstanceNorm1d,
    LazyInstanceNorm2d, LazyInstanceNorm3d, LazyLinear)
from .parameter import Buffer, UninitializedBuffer, UninitializedParameter  # noqa: F401,E402
from .modules import (  # noqa: F401,E402
    Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer)

from . import functional, grad, init  # noqa: F401,E402
from . import parallel, utils  # noqa: F401,E402
from .parallel import DataParallel  # noqa: F401,E402

