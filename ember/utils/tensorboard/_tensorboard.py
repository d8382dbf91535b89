"""The tensorboard package's writer and protos, or one line naming the extra to install."""
from ..._extras import install_hint

try:
    from google.protobuf import struct_pb2  # noqa: F401  (installed with tensorboard)
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog  # noqa: F401
    from tensorboard.compat.proto.summary_pb2 import (  # noqa: F401
        HistogramProto, Summary, SummaryMetadata)
    from tensorboard.compat.proto.tensor_pb2 import TensorProto  # noqa: F401
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto  # noqa: F401
    from tensorboard.plugins.hparams import api_pb2  # noqa: F401
    from tensorboard.plugins.hparams import metadata as hparams_metadata  # noqa: F401
    from tensorboard.plugins.hparams.plugin_data_pb2 import (  # noqa: F401
        HParamsPluginData, SessionEndInfo, SessionStartInfo)
    from tensorboard.plugins.text.plugin_data_pb2 import TextPluginData  # noqa: F401
    from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: F401
except ImportError:
    raise ImportError(f"ember.utils.tensorboard needs tensorboard: "
                      f"{install_hint('tensorboard')}") from None
