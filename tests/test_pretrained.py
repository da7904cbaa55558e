"""The ImageNet backbone of v3: the legacy PyTorch reader, and the Keras port of EfficientNet-Lite0."""

from __future__ import annotations

import io
import pickle
import struct
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest

from training.architectures import efficientnet_lite0, load_imagenet_weights
from training.torch_weights import LEGACY_MAGIC, LEGACY_PROTOCOL, TorchWeightsError, read_state_dict


@pytest.fixture
def fake_torch(monkeypatch):
    """Stand-ins for the two PyTorch globals a legacy state dict names, so the tests can write one
    as torch.save did (PyTorch itself stays out of the install)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage = FloatStorage
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch, utils


class _Storage:
    def __init__(self, key: str, count: int) -> None:
        self.key, self.count = key, count


class _Tensor:
    def __init__(self, rebuild, storage: _Storage, offset: int, shape: tuple, stride: tuple) -> None:
        self.rebuild, self.args = rebuild, (storage, offset, shape, stride, False, OrderedDict())

    def __reduce__(self):
        return self.rebuild, self.args


def legacy_file(fake_torch, tensors: dict[str, tuple], storages: dict[str, np.ndarray], extra=None) -> bytes:
    """A file as torch.save wrote before PyTorch 1.6: each tensor (storage key, offset, shape,
    stride) a view into a flat float32 storage whose bytes follow the pickles."""
    torch, utils = fake_torch
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, out, protocol=2)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return ("storage", torch.FloatStorage, obj.key, "cpu", obj.count, None)
            return None

    handles = {key: _Storage(key, data.size) for key, data in storages.items()}
    state = OrderedDict(
        (name, _Tensor(utils._rebuild_tensor_v2, handles[key], offset, shape, stride))
        for name, (key, offset, shape, stride) in tensors.items()
    )
    if extra is not None:
        state["extra"] = extra
    Pickler(out, protocol=2).dump(state)
    pickle.dump(list(storages), out, protocol=2)
    for data in storages.values():
        out.write(struct.pack("<q", data.size) + data.astype("<f4").tobytes())
    return out.getvalue()


def test_the_reader_rebuilds_views_and_strides(fake_torch, tmp_path):
    flat = np.arange(12, dtype=np.float32)
    other = np.array([7.5, -1.0], dtype=np.float32)
    path = tmp_path / "weights.pth"
    path.write_bytes(
        legacy_file(
            fake_torch,
            {
                "weight": ("0", 0, (3, 4), (4, 1)),
                "transposed": ("0", 0, (4, 3), (1, 4)),
                "tail": ("0", 8, (4,), (1,)),
                "bias": ("1", 0, (2,), (1,)),
            },
            {"0": flat, "1": other},
        )
    )
    state = read_state_dict(path)
    assert np.array_equal(state["weight"], flat.reshape(3, 4))
    assert np.array_equal(state["transposed"], flat.reshape(3, 4).T)
    assert np.array_equal(state["tail"], flat[8:])
    assert np.array_equal(state["bias"], other)


class _Exploit:
    def __reduce__(self):
        import os

        return os.system, ("echo pwned",)


def test_the_reader_runs_no_code_from_a_crafted_file(fake_torch, tmp_path):
    path = tmp_path / "crafted.pth"
    path.write_bytes(legacy_file(fake_torch, {}, {}, extra=_Exploit()))
    with pytest.raises(TorchWeightsError, match="refusing"):
        read_state_dict(path)


def test_the_reader_refuses_truncated_and_foreign_files(fake_torch, tmp_path):
    data = legacy_file(fake_torch, {"w": ("0", 0, (4,), (1,))}, {"0": np.ones(4, dtype=np.float32)})
    (tmp_path / "short.pth").write_bytes(data[:-3])
    with pytest.raises(TorchWeightsError, match="truncated"):
        read_state_dict(tmp_path / "short.pth")
    (tmp_path / "zip.pth").write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(TorchWeightsError, match="not a legacy PyTorch file"):
        read_state_dict(tmp_path / "zip.pth")


@pytest.fixture(scope="module")
def imagenet_network():
    network = efficientnet_lite0(224, 1000)
    load_imagenet_weights(network, classifier=True)
    return network


def test_the_port_gives_the_recorded_imagenet_outputs(imagenet_network):
    # Recorded from this port when it was checked against ImageNet labels on real photos (masked
    # faces: "gasmask" and "mask" in the top five for 25 of 30); a change to the layers, the
    # weight layouts or the input scaling moves them.
    pixels = np.random.default_rng(0).random((1, 224, 224, 3), dtype=np.float32)
    probabilities = np.asarray(imagenet_network(pixels, training=False))[0]
    top = np.argsort(-probabilities)[:5]
    assert top.tolist() == [21, 128, 92, 701, 127]
    assert probabilities[top] == pytest.approx([0.0979426, 0.0296449, 0.025799, 0.0253842, 0.0238904], rel=2e-3)


def test_every_imagenet_weight_is_placed_and_the_classifier_is_ours():
    network = efficientnet_lite0()
    load_imagenet_weights(network)
    assert network.count_params() == 3_416_867  # batch-norm statistics included; 4.7 M with 1,000 classes
    assert network.output_shape == (None, 3)
    assert network.get_layer("stem_conv").get_weights()[0].shape == (3, 3, 3, 32)
    assert network.get_layer("block15_depthwise_conv").get_weights()[0].shape == (3, 3, 1152, 1)
