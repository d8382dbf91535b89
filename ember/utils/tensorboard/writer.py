"""SummaryWriter with torch.utils.tensorboard's API, on tensorboard's EventFileWriter."""
import os
import socket
import time
from datetime import datetime

from ...nn import BatchNorm1d, BatchNorm2d, BatchNorm3d
from . import summary as summaries
from ._tensorboard import Event, EventFileWriter, SessionLog


class FileWriter:
    """Writes Event protos to one event file in ``log_dir`` (asynchronously, flushed every
    ``flush_secs`` or when ``max_queue`` events wait)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs,
                                            filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(Event(summary=summary), global_step, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()


class SummaryWriter:
    """Logs scalars, histograms, images, text and hyperparameters for TensorBoard.

    ``log_dir`` defaults to runs/<date>_<host><comment>. Values may be ember tensors, NumPy
    arrays or Python numbers. A closed writer reopens on the next ``add_*`` call, as torch's.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers = None
        self._get_file_writer()
        self.default_bins = summaries.default_bins()

    def _get_file_writer(self):
        """The default FileWriter, recreated after close()."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # A SessionLog START at purge_step hides the events at or after that step
                # left by a crashed run in the same log_dir.
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 file_version="brain.Event:2"))
                self.file_writer.add_event(Event(step=self.purge_step,
                                                 session_log=SessionLog(status=SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """One value of the series ``tag`` at ``global_step``."""
        summary = summaries.scalar(tag, scalar_value, new_style, double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several series in one chart: each goes to its own run folder
        ``<log_dir>/<main_tag>_<tag>`` under the tag ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        log_dir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            run_dir = log_dir + "/" + main_tag.replace("/", "_") + "_" + tag
            if run_dir not in self.all_writers:
                self.all_writers[run_dir] = FileWriter(run_dir, self.max_queue,
                                                       self.flush_secs, self.filename_suffix)
            self.all_writers[run_dir].add_summary(summaries.scalar(main_tag, scalar_value),
                                                  global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """A histogram of ``values``; ``bins`` as numpy.histogram's, or 'tensorflow'."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        summary = summaries.histogram(tag, values, bins, max_bins=max_bins)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image: uint8 in [0, 255] or float in [0, 1]; ``dataformats`` CHW, HWC or HW."""
        summary = summaries.image(tag, img_tensor, dataformats=dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """A batch of images, shown as one grid of 8 per row."""
        summary = summaries.image(tag, img_tensor, dataformats=dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Text (Markdown) under ``<tag>/text_summary``."""
        self._get_file_writer().add_summary(summaries.text(tag, text_string), global_step,
                                            walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """One hyperparameter run in the HPARAMS tab: the summaries and the metrics go to the
        sub-run ``<log_dir>/<run_name>`` (default: the current time)."""
        experiment, session_start, session_end = summaries.hparams(
            hparam_dict, metric_dict, hparam_domain_discrete)
        run_name = str(time.time()) if not run_name else run_name
        log_dir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=log_dir) as run_writer:
            for proto in (experiment, session_start, session_end):
                run_writer.file_writer.add_summary(proto, global_step)
            for tag, value in metric_dict.items():
                run_writer.add_scalar(tag, value, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Not available: TensorBoard's graph view needs a traced GraphDef of the model's ops,
        and ember has no tracer yet."""
        raise NotImplementedError(
            "SummaryWriter.add_graph: ember cannot trace a model into the op graph TensorBoard "
            "displays yet (the tracer comes with ONNX export); log the architecture with "
            "add_text('model', str(model)) instead")

    def flush(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = None
        self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()


_BATCH_NORMS = (BatchNorm1d, BatchNorm2d, BatchNorm3d)


def log_epoch(writer, epoch, metrics, model=None, optimizer=None):
    """Log one epoch for TensorBoard: each of ``metrics`` ({"train_loss": ..., "val_accuracy":
    ...}) as a scalar, each optimizer param group's learning rate (``lr/group<i>``), and for
    every BatchNorm of ``model`` its running mean and variance as histograms
    (``bn/<module>/running_mean``). The step is ``epoch``; for ``ember train --tensorboard``."""
    for name, value in metrics.items():
        writer.add_scalar(name, value, epoch)
    if optimizer is not None:
        for index, group in enumerate(optimizer.param_groups):
            writer.add_scalar(f"lr/group{index}", group["lr"], epoch)
    if model is not None:
        for name, module in model.named_modules():
            if isinstance(module, _BATCH_NORMS) and module.running_mean is not None:
                writer.add_histogram(f"bn/{name}/running_mean", module.running_mean, epoch)
                writer.add_histogram(f"bn/{name}/running_var", module.running_var, epoch)
