"""TensorFlow's start-up log lines, kept out of the command line's output.

TensorFlow writes its start-up notices (oneDNN, CUDA probing on a machine
without a GPU, CPU features) from C++ straight to file descriptor 2, before
`TF_CPP_MIN_LOG_LEVEL` is read for some of them. The CLI imports TensorFlow
and lets it probe its devices with descriptor 2 captured, then writes back
every captured line that is not one of those known notices, so a real error
still reaches the user.
"""

import importlib.util
import os
import re
import sys
import tempfile

_NOTICES = re.compile(
    r"All log messages before absl::InitializeLog|port\.cc.*oneDNN custom operations"
    r"|cudart_stub\.cc|cuda_platform\.cc.*cuInit|cpu_feature_guard\.cc"
    r"|To enable the following instructions|rebuild TensorFlow with the appropriate compiler"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning|computation placer already"
    r"|absl::InitializeLog")


def start_tensorflow_quietly():
    """Imports TensorFlow (when installed) with its start-up notices dropped."""
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        lines = captured.read().decode(errors="replace").splitlines()
    kept = [line for line in lines if line.strip() and not _NOTICES.search(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
