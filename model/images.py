"""Decoding untrusted photos into RGB arrays.

Phone photos arrive in every shape: EXIF-rotated, CMYK, 16-bit, palette with transparency,
animated, enormous or tiny. Everything here turns them into an upright 8-bit RGB array or raises
`ImageError` with a message a person can act on.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.messages import N_, Message

MAX_PIXELS = 40_000_000
"""Refuse anything larger: a 40 MP photo is already far beyond any phone camera's JPEG."""
MIN_SIDE = 32
"""Below this a face cannot be told apart from a thumbnail of one."""
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")
"""What phones, messengers and screenshots produce (the JPEG decoder also opens MPO, the JPEG of
many phones; HEIF is what an iPhone sends "as a file", opened by pillow-heif; AVIF is Pillow's
own); Pillow's other decoders (PSD, EPS, ICNS, ...) are never tried on a user's file."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif")
"""The file names of ACCEPTED_FORMATS: how a file sent without an image MIME type is recognised,
and how a data folder's images are listed."""
HEIF_DECODE_THREADS = 2
"""libheif's threads for one HEIC: measured on 2 cores, a 12 MP photo decoded in 1.7 s with 2
against 2.5 s with 1 or 4 (on a busy machine)."""


@functools.cache
def _open_heif_too() -> None:
    """Teach Pillow HEIF at the first photo, not at import: pillow-heif takes a tenth of a second to
    load, and most photos are JPEGs. Only the main picture is read: a HEIC's thumbnails, depth
    maps and other auxiliary pictures are never decoded."""
    import pillow_heif

    pillow_heif.options.DECODE_THREADS = HEIF_DECODE_THREADS
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


MAX_DECODE_BYTES = 128 * 1024 * 1024
"""The most memory one picture may take decoded, before it is shrunk: 32 MP of 8-bit colour (Pillow
keeps RGB in 4 bytes a pixel), 64 MP of 16-bit grey. JPEGs are decoded at reduced scale, so only
their reduced size counts."""
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
"""Decoded size by mode as Pillow stores it; every other mode (RGB, RGBA, CMYK, I, F, ...) takes 4."""


class ImageError(ValueError):
    """An input that cannot be turned into a usable photo; `message` is meant for the user
    (translated by the bot), `str()` is its English."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


class NotAnImage(ImageError):
    pass


class ImageTooLarge(ImageError):
    pass


class ImageTooSmall(ImageError):
    pass


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # H x W x 3, uint8, upright
    format: str
    original_mode: str
    frames: int
    width: int
    """The upright photo's own size, before any reduced-scale decoding."""
    height: int


SLOW_DECODE_PIXELS = 12_000_000
"""Pictures above this many pixels that cannot be decoded at reduced scale (anything but JPEG)
take a few hundred milliseconds: the bot decodes them apart from everyone else's photos."""


def slow_to_decode(data: bytes) -> bool:
    """Whether decoding `data` will take long, judged from its header alone (no pixels read)."""
    _open_heif_too()
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            return image.format not in ("JPEG", "MPO") and image.size[0] * image.size[1] > SLOW_DECODE_PIXELS
    except Exception:  # whatever it is, decode_image will refuse it quickly and say why
        return False


def decode_image(
    data: bytes | Path | str, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE, max_side: int | None = None
) -> DecodedImage:
    """Decode bytes or a file into an upright RGB array, refusing bombs and thumbnails.

    With `max_side`, a JPEG is decoded at the smallest of 1/2, 1/4 or 1/8 scale that keeps both
    sides at least `max_side`: a 12 MP selfie then decodes several times faster, and nothing
    downstream needs more pixels than that."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else Path(data)
    _open_heif_too()
    try:
        with warnings.catch_warnings():
            # Pillow warns before it raises; the explicit pixel check below is the real guard.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source, formats=ACCEPTED_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageTooLarge(
                        Message(
                            N_("This image is {size} pixels, too large to check. Please send a normal photo."),
                            {"size": f"{width}x{height}"},
                        )
                    )
                if min(width, height) < min_side:
                    raise ImageTooSmall(
                        Message(
                            N_(
                                "This image is only {size} pixels. "
                                "Please send a photo at least {min_side} pixels on each side."
                            ),
                            {"size": f"{width}x{height}", "min_side": min_side},
                        )
                    )
                frames = getattr(image, "n_frames", 1)
                image.seek(0)
                image_format = image.format or "unknown"
                original_mode = image.mode
                if max_side is not None and image_format in ("JPEG", "MPO"):
                    image.draft(None, (max_side, max_side))
                if image.size[0] * image.size[1] * BYTES_PER_PIXEL.get(image.mode, 4) > MAX_DECODE_BYTES:
                    raise ImageTooLarge(
                        Message(
                            N_(
                                "This image is {size} pixels at {mode} depth, too large to check. Please send a normal photo."
                            ),
                            {"size": f"{width}x{height}", "mode": image.mode},
                        )
                    )
                image.load()
                # Shrunk before any mode conversion, so conversions copy a small picture.
                shrunk = shrink(image, max_side) if max_side is not None else image
                scale = width / shrunk.size[0]
                upright = ImageOps.exif_transpose(shrunk)
                rgb = to_rgb(upright)
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLarge(Message(N_("This image is too large to check. Please send a normal photo."))) from error
    except UnidentifiedImageError as error:
        raise NotAnImage(
            Message(N_("This file is not an image I can read. Please send a JPEG or PNG photo."))
        ) from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise NotAnImage(Message(N_("This image seems to be damaged or incomplete. Please send it again."))) from error
    return DecodedImage(
        np.asarray(rgb, dtype=np.uint8),
        image_format,
        original_mode,
        frames,
        round(rgb.width * scale),
        round(rgb.height * scale),
    )


def shrink(image: Image.Image, max_side: int) -> Image.Image:
    """A picture at least `max_side` on its short side, reduced by a whole factor when it is at
    least twice that, in its own mode: no full-size copy is ever made."""
    factor = min(image.size) // max_side
    if factor < 2:
        return image
    if image.mode in ("P", "1") or image.mode.startswith("I;16"):
        # reduce() does not take these modes, and converting first would copy the whole picture
        # (a 6300x6300 16-bit PNG: 152 MB more); resize() keeps the mode.
        size = (image.width // factor, image.height // factor)
        return image.resize(size, Image.Resampling.NEAREST if image.mode in ("P", "1") else Image.Resampling.BOX)
    return image.reduce(factor)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparent areas become white, as a viewer shows them.
    Deep images are scaled in their own integer or float32 type, never through float64."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I;16"):
        wide = np.asarray(image).astype(np.uint16, copy=False)
        return Image.fromarray((wide >> 8 if wide.max() > 255 else wide).astype(np.uint8)).convert("RGB")
    if image.mode == "I":
        array = np.asarray(image).astype(np.int64)
        peak = int(array.max())
        if peak > 255:
            # 16-bit data arrives as "I" too: scale by the smallest power of two that holds it.
            array = array >> (peak.bit_length() - 8)
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float32)
        low, span = float(array.min()), max(float(array.max() - array.min()), 1e-9)
        return Image.fromarray(((array - low) * np.float32(255.0 / span)).astype(np.uint8)).convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
