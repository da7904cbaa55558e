"""From a decoded photo to the classifier's 128x128 input, and the resizing the other model modules use.

Two recipes: the report's (squash the whole photo to a square, which distorts faces and shrinks
them in wide shots) and ours (a square around the face with some context, or the centre square
when no face is found, so a face keeps its shape and fills the input).

Resizing is NumPy (and Pillow's `reduce` for halving): the serving install has no OpenCV, which
was half of it. 8-bit pictures come out exactly as OpenCV's `resize` (x86-64 build) makes them,
as the shipped networks' training crops and the face finder's measurements were made: its
11-bit integer bilinear weights and their rounding, its area weights, and its order of 32-bit
float additions wherever a sum lies near a half. Pillow's own filters are not that close (its BOX
takes whole pixels only; its BILINEAR rounds a fifth of the pixels the other way): measured on 300
photos of ilc3 and external2, through them 15 of 691 faces were no longer found and 21 changed
their verdict; through this module, none and none.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from model import IMAGE_SIZE

if TYPE_CHECKING:  # model.faces resizes with this module: importing it here would be a cycle
    from model.faces import FaceBox

FACE_MARGIN = 1.8
"""The crop is this many face-box sides wide: forehead to chin plus the mask's straps."""


def resize(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    return resize_pixels(rgb, size, size)


def resize_pixels(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """`pixels` (H x W grey or H x W x C) at `width` x `height`: averaged over each output pixel's
    area when the longer side shrinks (`resize_area`), else bilinear (`resize_bilinear`)."""
    if (height, width) == pixels.shape[:2]:
        return pixels.copy()
    if max(width, height) < max(pixels.shape[:2]):
        return resize_area(pixels, width, height)
    return resize_bilinear(pixels, width, height)


def resize_area(pixels: np.ndarray, width: int, height: int, scale: float | None = None) -> np.ndarray:
    """OpenCV's `resize(..., interpolation=INTER_AREA)`: each output pixel the mean of the source
    area it covers, partly covered source pixels weighed by their share. `scale` is the source
    pixels per output pixel when the caller chose it and rounded the size from it (OpenCV's
    `fx`), else the sizes' ratio. When either side grows, both get OpenCV's area-mode blend of two
    neighbours, as there.

    8-bit pixels come out exactly as OpenCV's (tests/test_without_opencv.py)."""
    source_height, source_width = pixels.shape[:2]
    # As OpenCV has them: the inverse of output over source pixels (not always source over output).
    scale_x = 1 / (width / source_width) if scale is None else scale
    scale_y = 1 / (height / source_height) if scale is None else scale
    if (width, height) == (source_width, source_height) and scale_x == scale_y == 1:
        return pixels.copy()
    if scale_x < 1 or scale_y < 1:
        return _two_tap(
            pixels,
            _blend_taps(source_height, height, scale_y),
            _blend_taps(source_width, width, scale_x),
        )
    factor_x, factor_y = round(scale_x), round(scale_y)
    if (
        pixels.dtype == np.uint8
        and abs(scale_x - factor_x) < 1e-9  # OpenCV also takes a factor within rounding as whole
        and abs(scale_y - factor_y) < 1e-9
        and (source_width, source_height) == (width * factor_x, height * factor_y)
    ):
        return _block_mean(pixels, factor_x, factor_y)
    return _separable(pixels, _area_taps(source_height, height, scale_y), _area_taps(source_width, width, scale_x))


def resize_bilinear(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """OpenCV's `resize(..., interpolation=INTER_LINEAR)`: each output pixel's centre mapped into
    the source and blended from the two by two pixels around it, edges repeated. 8-bit pixels
    come out exactly as OpenCV's: its weights are 11-bit integers and its rounding is copied."""
    source_height, source_width = pixels.shape[:2]
    return _two_tap(
        pixels,
        _linear_taps(source_height, height, 1 / (height / source_height)),
        _linear_taps(source_width, width, 1 / (width / source_width)),
    )


def _block_mean(pixels: np.ndarray, factor_x: int, factor_y: int) -> np.ndarray:
    """8-bit blocks of factor_x by factor_y averaged, rounded as OpenCV rounds them: halves up
    for 2 x 2 (Pillow's `reduce`, which rounds the same, in C), else half to even."""
    if (factor_x, factor_y) == (2, 2) and (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        return np.asarray(Image.fromarray(np.ascontiguousarray(pixels)).reduce(2))
    height, width = pixels.shape[0] // factor_y, pixels.shape[1] // factor_x
    planes = pixels.reshape(pixels.shape[0], pixels.shape[1], -1)
    total = np.dtype(np.uint16 if factor_x * factor_y <= 257 else np.uint32)  # holds 255 x the block's pixels
    # Sums of whole rows first (contiguous memory), then of neighbouring pixels along each row.
    rows: np.ndarray = planes[0::factor_y].astype(total)
    for offset in range(1, factor_y):
        rows += planes[offset::factor_y]
    sums = np.einsum("xkc->xc", rows.reshape(height * width, factor_x, -1))
    mean = sums * np.float32(1 / (factor_x * factor_y))
    return np.rint(mean, out=mean).astype(np.uint8).reshape((height, width, *pixels.shape[2:]))


Taps = tuple[np.ndarray, np.ndarray]
"""(indices, weights), each (output pixels, taps): output pixel i is the sum over j of
weights[i, j] times source pixel indices[i, j], along one axis."""


def _separable(pixels: np.ndarray, taps_y: Taps, taps_x: Taps) -> np.ndarray:
    """`pixels` resampled along both sides in 32-bit floats; uint8 in, uint8 out (rounded as
    OpenCV rounds, see `_round_as_opencv`)."""
    rows_y, weights_y = taps_y
    rows_x, weights_x = taps_x
    planes = pixels.reshape(*pixels.shape[:2], -1)
    # Taps along y gather whole rows (contiguous memory); along x, one tap at a time (a whole
    # factor, 1280 to 640 pixels wide, as a sum of neighbours in contiguous memory).
    rows = np.einsum("ok,okwc->owc", weights_y, planes[rows_y], dtype=np.float32, casting="unsafe")
    size, taps = rows_x.shape
    blocks = size * taps == rows.shape[1] and (rows_x.ravel() == np.arange(rows.shape[1])).all()
    if blocks and (weights_x == weights_x[0, 0]).all():
        result = np.einsum("xkc->xc", rows.reshape(-1, taps, rows.shape[2])).reshape(rows.shape[0], size, -1)
        result *= weights_x[0, 0]
    else:
        result = np.take(rows, rows_x[:, 0], axis=1)
        result *= weights_x[:, 0, None]
        for tap in range(1, taps):
            result += np.take(rows, rows_x[:, tap], axis=1) * weights_x[:, tap, None]
    if pixels.dtype != np.uint8:
        return result.reshape(result.shape[:2] + pixels.shape[2:])
    # Area weights are >= 0 and add to 1, so nothing leaves 0-255 to clip; rounded half to even,
    # as OpenCV's float-to-uint8 conversion rounds.
    rounded = np.rint(result)
    _round_as_opencv(rounded, result, planes, taps_y, taps_x)
    return rounded.astype(np.uint8).reshape(result.shape[:2] + pixels.shape[2:])


NEAR_HALF = 2e-3
"""Sums this close to a half may round the other way in OpenCV's order of 32-bit operations than
in the one here (their float errors are below 1e-3): `_round_as_opencv` redoes them."""


def _round_as_opencv(rounded: np.ndarray, result: np.ndarray, planes: np.ndarray, taps_y: Taps, taps_x: Taps) -> None:
    """Round again, in OpenCV's own order of operations (`ResizeArea_Invoker`: along x first,
    then along y, adding one 32-bit product at a time), the few sums of `result` within
    NEAR_HALF of a half: `rounded` is then OpenCV's 8-bit result to the bit. The order here is
    faster with NumPy, and otherwise the same to within 1e-3."""
    flat = result.reshape(-1)
    difference = np.subtract(flat, rounded.reshape(-1))
    near = np.flatnonzero(np.abs(difference, out=difference) > 0.5 - NEAR_HALF)
    if not near.size:
        return
    y, x, channel = np.unravel_index(near, result.shape)
    rows_y, weights_y = taps_y
    rows_x, weights_x = taps_x
    source = planes.reshape(-1)
    row_length = planes.shape[1] * planes.shape[2]
    columns = [rows_x[x, tap] * planes.shape[2] + channel for tap in range(rows_x.shape[1])]
    alphas = [weights_x[x, tap] for tap in range(rows_x.shape[1])]
    terms = []
    for tap_y in range(rows_y.shape[1]):
        start = rows_y[y, tap_y] * row_length
        across = source.take(start + columns[0]) * alphas[0]
        for column, alpha in zip(columns[1:], alphas[1:], strict=True):
            across = across + source.take(start + column) * alpha
        terms.append(weights_y[y, tap_y] * across)
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    rounded.reshape(-1)[near] = np.rint(total)


@functools.lru_cache(maxsize=256)
def _area_taps(source: int, size: int, scale: float) -> Taps:
    """OpenCV's `computeResizeAreaTab`: output pixel i covers source [i*scale, (i+1)*scale); whole
    pixels count 1, the partly covered ones at its ends their covered share (above 0.001), and
    all divided by the covered length."""
    start = np.arange(size) * scale
    end = start + scale
    cell = np.minimum(scale, source - start)
    last = np.minimum(np.floor(end), source - 1)
    first = np.minimum(np.ceil(start), last)
    left = np.where(first - start > 1e-3, (first - start) / cell, 0.0)
    right = np.where(end - last > 1e-3, np.minimum(np.minimum(end - last, 1.0), cell) / cell, 0.0)
    # Taps run from the partly covered pixel before `first` to `last`.
    count = int((last - first).max()) + 2
    offsets = np.arange(count)
    indices = (first - 1)[:, None] + offsets
    whole = (offsets >= 1) & (indices < last[:, None])
    weights = np.where(whole, 1.0 / cell[:, None], 0.0)
    weights[:, 0] = left
    weights[np.arange(size), (last - first + 1).astype(np.int64)] += right
    # Each output pixel's taps from its first weighed one: fewer taps to gather (two, not four,
    # for a factor of 2), the same sums (zero weights add nothing).
    weighed = weights > 0
    begin = weighed.argmax(axis=1)
    span = int((count - weighed[:, ::-1].argmax(axis=1) - begin).max())
    wanted = begin[:, None] + np.arange(span)
    columns, rows = np.minimum(wanted, count - 1), np.arange(size)[:, None]
    indices, weights = indices[rows, columns], np.where(wanted < count, weights[rows, columns], 0.0)
    return np.clip(indices, 0, source - 1).astype(np.intp), weights.astype(np.float32)


TwoTaps = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(first, second, share): output pixel i blends source pixels first[i] and second[i] as
(1 - share[i]) and share[i], share a 32-bit float as in OpenCV."""


@functools.lru_cache(maxsize=64)
def _linear_taps(source: int, size: int, scale: float) -> TwoTaps:
    """OpenCV's INTER_LINEAR: pixel centres matched, (i + 0.5) * scale - 0.5."""
    where = ((np.arange(size) + 0.5) * scale - 0.5).astype(np.float32)
    position = np.floor(where)
    return _two_taps(source, position, where - position)


@functools.lru_cache(maxsize=64)
def _blend_taps(source: int, size: int, scale: float) -> TwoTaps:
    """OpenCV's INTER_AREA when a side grows: a blend of two neighbours that only mixes at the
    boundaries between source pixels."""
    position = np.floor(np.arange(size) * scale)
    share = ((np.arange(size) + 1) - (position + 1) * (size / source)).astype(np.float32)
    return _two_taps(source, position, np.where(share <= 0, 0, share - np.floor(share)).astype(np.float32))


def _two_taps(source: int, position: np.ndarray, share: np.ndarray) -> TwoTaps:
    first = np.clip(position, 0, source - 1).astype(np.intp)
    second = np.clip(position + 1, 0, source - 1).astype(np.intp)
    return first, second, share.astype(np.float32)


def _two_tap(pixels: np.ndarray, taps_y: TwoTaps, taps_x: TwoTaps) -> np.ndarray:
    """OpenCV's two-tap resize (`resizeGeneric_` with linear weights). Along x, a position outside
    the source takes the edge pixel alone; along y, OpenCV keeps the share and reads the edge row
    twice, which rounds differently in 8 bits, so that is done too."""
    source_height, source_width = pixels.shape[:2]
    first_y, second_y, share_y = taps_y
    first_x, second_x, share_x = taps_x
    share_x = np.where(first_x == second_x, np.float32(0), share_x)
    planes = pixels.reshape(source_height, source_width, -1)
    if pixels.dtype != np.uint8:
        weights_x = np.stack([1 - share_x, share_x], axis=1)
        weights_y = np.stack([1 - share_y, share_y], axis=1)
        return _separable(
            pixels, (np.stack([first_y, second_y], 1), weights_y), (np.stack([first_x, second_x], 1), weights_x)
        )
    # 8 bits: weights in 1/2048ths (INTER_RESIZE_COEF_BITS), rows as 32-bit integers, then
    # OpenCV's vectorised vertical step on x86 (VResizeLinearVec_32s8u): each row shifted right
    # by 4, multiplied by its weight keeping the high 16 bits, the two added and rounded by 2 bits.
    alpha = [np.rint(weight * np.float32(2048)).astype(np.int32)[:, None] for weight in (1 - share_x, share_x)]
    beta = [np.rint(weight * np.float32(2048)).astype(np.int32)[:, None, None] for weight in (1 - share_y, share_y)]
    wide = planes.astype(np.int32)
    rows = np.take(wide, first_x, axis=1)
    rows *= alpha[0]
    rows += np.take(wide, second_x, axis=1) * alpha[1]
    rows >>= 4
    top = np.take(rows, first_y, axis=0)
    top *= beta[0]
    top >>= 16
    bottom = np.take(rows, second_y, axis=0)
    bottom *= beta[1]
    bottom >>= 16
    top += bottom
    top += 2
    top >>= 2  # at most 255: the weights add to 2048
    result = top.astype(np.uint8)
    return result.reshape(result.shape[:2] + pixels.shape[2:])


def squash(rgb: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """The report's preprocessing: the whole photo resized to a square, aspect ratio lost."""
    return resize(rgb, size)


def square_around(rgb: np.ndarray, box: FaceBox | None, margin: float = FACE_MARGIN) -> tuple[int, int, int]:
    """(x, y, side) of the square crop: around the face when there is one, else the centre."""
    height, width = rgb.shape[:2]
    if box is None:
        side = min(height, width)
        return (width - side) // 2, (height - side) // 2, side
    side = min(round(max(box.width, box.height) * margin), height, width)
    centre_x, centre_y = box.centre
    x = round(min(max(centre_x - side / 2, 0), width - side))
    y = round(min(max(centre_y - side / 2, 0), height - side))
    return x, y, side


def crop_square(
    rgb: np.ndarray, box: FaceBox | None, size: int = IMAGE_SIZE, margin: float = FACE_MARGIN
) -> np.ndarray:
    """Our preprocessing: the square around the face (or the centre), resized to `size`."""
    x, y, side = square_around(rgb, box, margin)
    return resize(rgb[y : y + side, x : x + side], size)


def to_input(batch_uint8: np.ndarray) -> np.ndarray:
    """uint8 pixels to the float32 [0, 1] tensor every model here takes, as the report did."""
    return batch_uint8.astype(np.float32) / 255.0
