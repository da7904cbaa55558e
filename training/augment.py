"""Training-time augmentation, in TensorFlow ops so it runs inside the input pipeline.

Each transformation answers a way masks3 differs from real photos:
- zoom in and out: masks3's incorrect class is wide stock shots and the others close-ups, so
  framing alone would give the class away; random framing takes that shortcut away;
- low resolution: crowd photos give faces of 32-60 px, blurry once enlarged;
- mirror, brightness, contrast, saturation: phone cameras and lighting.
"""

from __future__ import annotations

from model import IMAGE_SIZE
from training.runtime import import_tensorflow

import_tensorflow()
import tensorflow as tf  # noqa: E402 (after the quiet import above)


def _zoom_in(image: tf.Tensor) -> tf.Tensor:
    side = tf.cast(tf.random.uniform([], 0.6, 1.0) * IMAGE_SIZE, tf.int32)
    crop = tf.image.random_crop(image, tf.stack([side, side, 3]))
    return tf.image.resize(crop, (IMAGE_SIZE, IMAGE_SIZE))


def _zoom_out(image: tf.Tensor) -> tf.Tensor:
    side = tf.cast(tf.random.uniform([], 0.55, 0.9) * IMAGE_SIZE, tf.int32)
    small = tf.image.resize(image, tf.stack([side, side]))
    spare = IMAGE_SIZE - side
    left = tf.random.uniform([], 0, spare + 1, dtype=tf.int32)
    top = tf.random.uniform([], 0, spare + 1, dtype=tf.int32)
    # Reflection keeps the surroundings photo-like, so the border itself is no cue.
    padded = tf.pad(small, [[top, spare - top], [left, spare - left], [0, 0]], mode="SYMMETRIC")
    return tf.ensure_shape(padded, (IMAGE_SIZE, IMAGE_SIZE, 3))


def _low_resolution(image: tf.Tensor) -> tf.Tensor:
    side = tf.random.uniform([], 24, 64, dtype=tf.int32)
    small = tf.image.resize(image, tf.stack([side, side]), method="area")
    return tf.image.resize(small, (IMAGE_SIZE, IMAGE_SIZE))


def augment(image_uint8: tf.Tensor) -> tf.Tensor:
    """uint8 128x128x3 in, float32 [0, 1] out, randomly reframed and degraded."""
    image = tf.cast(image_uint8, tf.float32) / 255.0
    choice = tf.random.uniform([])
    image = tf.cond(choice < 0.45, lambda: _zoom_in(image), lambda: image)
    image = tf.cond(choice > 0.75, lambda: _zoom_out(image), lambda: image)
    image = tf.cond(tf.random.uniform([]) < 0.25, lambda: _low_resolution(image), lambda: image)
    image = tf.image.random_flip_left_right(image)
    image = tf.image.random_brightness(image, 0.15)
    image = tf.image.random_contrast(image, 0.7, 1.3)
    image = tf.image.random_saturation(image, 0.7, 1.3)
    return tf.clip_by_value(image, 0.0, 1.0)
