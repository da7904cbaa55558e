"""The served copy of a network: `model.onnx` beside `model.keras`, run by ONNX Runtime.

Answering needs no TensorFlow: the bot loads the ONNX file with ONNX Runtime (already here for the
face finder), which measured on the 2-core machine at 1.5 ms a face on one thread against LiteRT's
2.05 ms and the Keras `tf.function`'s 3.0 ms (docs/measurements.md, "Runtimes compared").
Exporting needs TensorFlow and tf2onnx: the `train` extra.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from model import IMAGE_SIZE, INPUT_NAME, ONNX_FILE
from model.predictor import Forward, Predictor

POOL_LAYER, CLASSIFIER_LAYER = "pool", "probabilities"
"""`training.architectures`' names for the global average pooling and the softmax layer after it."""
OPSET = 17
KERAS_WEIGHTS = "model.weights.h5"
"""The weights' member inside a `.keras` zip."""


def export_onnx(model_dir: Path, half_precision: bool = False) -> Path:
    """Write `model_dir/model.onnx` from `model_dir/model.keras`; returns its path. With
    `half_precision`, its kernels are stored as float16 (see `halve_onnx_kernels`)."""
    from training.runtime import import_tensorflow

    import_tensorflow()
    import keras
    import tensorflow as tf
    import tf2onnx

    network = keras.saving.load_model(model_dir / "model.keras", compile=False)
    signature = (tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, len("RGB")], tf.float32, name=INPUT_NAME),)
    path = model_dir / ONNX_FILE
    function = tf.function(served_function(network), input_signature=signature)
    tf2onnx.convert.from_function(function, input_signature=signature, opset=OPSET, output_path=str(path))
    if not path.exists():
        raise RuntimeError(f"tf2onnx wrote no {path}")
    if half_precision:
        halve_onnx_kernels(path)
    return path


def served_function(network):
    """What is served of a Keras network: its probabilities as they are, then, when it ends in
    `training.architectures`' global average pooling and softmax layer (between them only dropout,
    which does nothing when answering), its class activation maps: (batch, h, w, classes), the
    last convolutional features times the classifier's kernel.

    For such a network the maps are exact, no gradients needed: a class's logit is the mean of its
    map plus the class's bias. They cost one small matrix product, and make the "Why?" picture
    (`model.explain`) without a second pass. Other networks (the report's) serve probabilities only.
    """
    import keras
    import tensorflow as tf
    from keras import layers

    names = {layer.name: layer for layer in network.layers}
    pool, classifier = names.get(POOL_LAYER), names.get(CLASSIFIER_LAYER)
    if not isinstance(pool, layers.GlobalAveragePooling2D) or not isinstance(classifier, layers.Dense):
        return tf.autograph.experimental.do_not_convert(lambda pixels: network(pixels, training=False))
    with_features = keras.Model(network.inputs, [network.outputs[0], pool.input])

    @tf.autograph.experimental.do_not_convert
    def forward(pixels):
        probabilities, features = with_features(pixels, training=False)
        return probabilities, tf.linalg.matmul(features, classifier.kernel)

    return forward


def _is_kernel(array: np.ndarray) -> bool:
    """Convolution and dense kernels (two or more dimensions) are most of a network's bytes, and
    float16 keeps their 3 significant digits. Vectors stay float32: batch-norm variances can
    exceed float16's range, and they weigh nothing."""
    return array.dtype == np.float32 and array.ndim >= 2


def halve_onnx_kernels(path: Path) -> None:
    """Store the ONNX model's kernels as float16, each behind a Cast to float32.

    ONNX Runtime folds those casts into float32 constants when it loads the session, so answering
    runs at full precision and speed, from a file half the size (v3: 13.5 -> 6.8 MB)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for initializer in list(graph.initializer):
        array = numpy_helper.to_array(initializer)
        if not _is_kernel(array):
            continue
        half = numpy_helper.from_array(array.astype(np.float16), f"{initializer.name}_float16")
        graph.initializer.remove(initializer)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [initializer.name], to=onnx.TensorProto.FLOAT))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def halve_keras_kernels(path: Path) -> None:
    """Store a `.keras` file's kernels as float16. Keras casts them back into its float32
    variables when it loads the file, so training from it and exporting it work as before."""
    import h5py

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    halved = io.BytesIO()
    with h5py.File(io.BytesIO(members[KERAS_WEIGHTS]), "r") as source, h5py.File(halved, "w") as target:
        target.attrs.update(source.attrs)

        def copy(name: str, item) -> None:
            if isinstance(item, h5py.Group):
                target.require_group(name).attrs.update(item.attrs)
                return
            array = item[()]
            target.create_dataset(name, data=array.astype(np.float16) if _is_kernel(array) else array)

        source.visititems(copy)
    members[KERAS_WEIGHTS] = halved.getvalue()
    partial = path.with_suffix(".tmp")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    partial.replace(path)


def keras_forward(model_dir: Path) -> Forward:
    """What `model.onnx` serves, computed by Keras from the folder's `model.keras`: a `tf.function`
    with a fixed input signature (no retracing), called directly: on one image `Model.predict`'s
    per-call setup costs more than the network itself."""
    from training.runtime import import_tensorflow

    import_tensorflow()
    import keras
    import tensorflow as tf

    network = keras.saving.load_model(model_dir / "model.keras", compile=False)
    signature = [tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.float32)]
    forward = tf.function(served_function(network), input_signature=signature)

    def run(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = forward(pixels)
        if isinstance(outputs, tuple):
            return outputs[0].numpy(), outputs[1].numpy()
        return outputs.numpy(), None

    return run


def keras_predictor(model_dir: Path | str, warm_up: bool = True) -> Predictor:
    """A `Predictor` of a model folder whose network Keras runs: the reference its export is
    compared with (tests, `maskbot bench`)."""
    return Predictor(model_dir, warm_up, network=("keras", keras_forward(Path(model_dir))))
