"""Network definitions: each is a small function that returns an uncompiled Keras model.

Every model takes float32 RGB in [0, 1] of shape (128, 128, 3) and returns softmax
probabilities over `model.CLASS_NAMES`.
"""

from __future__ import annotations

import keras
from keras import layers

from model import CLASS_NAMES, IMAGE_SIZE


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


def _separable_block(x, filters: int, name: str):
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def maskbot_cnn(
    input_size: int = IMAGE_SIZE, classes: int = len(CLASS_NAMES), width: int = 32, dropout: float = 0.3
) -> keras.Model:
    """A small batch-normalised separable CNN: a strided stem, four pooled stages, global pooling.

    The strided stem and separable convolutions keep it near 40 M multiply-adds per image, about a
    sixth of the report's network, with 3 % of its parameters.
    """
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, (filters, blocks) in enumerate(((width * 2, 1), (width * 3, 2), (width * 5, 2), (width * 8, 2))):
        for block in range(blocks):
            x = _separable_block(x, filters, f"stage{stage}_block{block}")
        if stage < 3:
            x = layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="maskbot_cnn")


ARCHITECTURES = {"report_cnn": report_cnn, "maskbot_cnn": maskbot_cnn}
