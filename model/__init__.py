"""Image preprocessing, architectures, training, evaluation, inference and framing analysis.

Nothing in this package knows about Telegram or SQL.
"""

CLASS_NAMES = ("with_mask", "without_mask", "mask_weared_incorrect")
IMAGE_SIZE = 128
