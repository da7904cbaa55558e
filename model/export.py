"""The served copy of a network: `model.onnx` beside `model.keras`, run by ONNX Runtime.

Answering needs no TensorFlow: the bot loads the ONNX file with ONNX Runtime (already here for the
face finder), which measured on the 2-core machine at 1.5 ms a face on one thread against LiteRT's
2.1 ms and the Keras `tf.function`'s 2.9 ms (README, "Speed"). Exporting needs TensorFlow and
tf2onnx: the `train` extra.
"""

from __future__ import annotations

from pathlib import Path

from model import IMAGE_SIZE

ONNX_FILE = "model.onnx"
INPUT_NAME = "pixels"
"""Float32 RGB in [0, 1], shape (batch, 128, 128, 3): what `model.preprocess.to_input` gives. The
output is the softmax over `model.CLASS_NAMES`, in their order."""
OPSET = 17


def export_onnx(model_dir: Path) -> Path:
    """Write `model_dir/model.onnx` from `model_dir/model.keras`; returns its path."""
    from model.runtime import import_tensorflow

    import_tensorflow()
    import keras
    import tensorflow as tf
    import tf2onnx

    network = keras.saving.load_model(model_dir / "model.keras", compile=False)
    signature = (tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, len("RGB")], tf.float32, name=INPUT_NAME),)

    @tf.autograph.experimental.do_not_convert
    def forward(pixels):
        return network(pixels, training=False)

    path = model_dir / ONNX_FILE
    function = tf.function(forward, input_signature=signature)
    tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET, output_path=str(path))
    if not path.exists():
        raise RuntimeError(f"tf2onnx wrote no {path}")
    return path
