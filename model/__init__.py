"""What the bot needs at run time: images, faces, framing, preprocessing, the served network,
calibration, the registry of model folders. Nothing here knows about Telegram or SQL, and nothing
imports TensorFlow or `training` (tests/test_layout.py says so).

The names below are the contract between `training`, which writes model folders, and `model`,
which serves them: the only thing the two packages share is the network.
"""

CLASS_NAMES = ("with_mask", "without_mask", "mask_weared_incorrect")
IMAGE_SIZE = 128
ONNX_FILE = "model.onnx"
"""What is served of a model folder, beside its METADATA_FILE (`training.export` writes it)."""
METADATA_FILE = "metadata.json"
"""A model folder's version, calibration, scores and history; a folder holding one is a model."""
INPUT_NAME = "pixels"
"""Float32 RGB in [0, 1], shape (batch, 128, 128, 3): what `model.preprocess.to_input` gives. The
first output is the softmax over `CLASS_NAMES`, in their order; a network that ends in global
average pooling and its classifier has a second: its class activation maps
(`training.export.served_function`)."""
