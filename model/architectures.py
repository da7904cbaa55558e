"""Network definitions: each is a small function that returns an uncompiled Keras model.

Every model takes float32 RGB in [0, 1] of shape (128, 128, 3) and returns softmax
probabilities over `model.CLASS_NAMES`.
"""

from __future__ import annotations

from model import CLASS_NAMES, IMAGE_SIZE
from model.runtime import import_tensorflow

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
