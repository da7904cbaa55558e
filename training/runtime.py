"""TensorFlow and Keras, imported without their start-up noise.

Importing TensorFlow writes oneDNN and absl notices straight to file descriptor 2, from C++,
before `TF_CPP_MIN_LOG_LEVEL` or Python's logging can filter anything. Every command that loads
a model would print them before its own first line, so the import runs with descriptor 2 pointed
at /dev/null; Python's own errors (an ImportError) still reach the user once it is restored.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# Read by TensorFlow's C++ logging once it is set up: warnings and errors only, after the import.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class TrainingExtraMissing(RuntimeError):
    """TensorFlow or Keras is not installed: serving does without them, training does not."""


def import_tensorflow() -> None:
    """Import TensorFlow and Keras once, quietly; call before the first `import keras`."""
    if sys.modules.get("tensorflow") is not None:
        return
    try:
        with _native_stderr_silenced():
            import keras  # noqa: F401 (imported for its side effect: loaded while stderr is silenced)
            import tensorflow  # noqa: F401 (same)
    except ImportError as error:
        raise TrainingExtraMissing(
            "this needs TensorFlow and Keras, which serving does without: pip install 'maskbot[train]'"
        ) from error
