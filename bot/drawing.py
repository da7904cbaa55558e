"""The annotated copy of a group photo: every face boxed, numbered and marked by its verdict; and
the plain frame a clip with one face is answered with.

Drawn in an inference thread (see `bot.judging`), never on the event loop. The legend does not
rely on colour alone: each judged face carries its number and a symbol, which the caption repeats.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.replies import SYMBOL, verdict_key
from model.faces import FaceBox
from model.predictor import PhotoPrediction

LONGEST_SIDE = 1280
"""The annotated copy's longest side: Telegram shows photos at about this size."""
COLOURS = {
    "with_mask": (46, 125, 50),
    "without_mask": (198, 40, 40),
    "mask_weared_incorrect": (239, 108, 0),
    "unsure": (21, 101, 192),
    "too_small": (158, 158, 158),
}


FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-Bold.ttf"
"""DejaVu Sans Bold (its licence beside it), which has ✓, ✗ and every letter of the bot's
languages: the annotated photos and the admins' chart are written in it."""


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def annotate(photo: PhotoPrediction) -> bytes:
    """A JPEG of the photo with every face boxed: judged faces numbered 1, 2, ... (largest
    first) in their verdict's colour with its symbol, too-small faces in grey."""
    image = _shown(photo)
    factor = image.width / photo.width  # photo pixels to drawing pixels
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 400))
    tag_font = font(max(12, round(max(image.size) / 45)))
    for face in photo.too_small:
        draw.rectangle(_corners(face, factor), outline=COLOURS["too_small"], width=max(1, line // 2))
    for number, prediction in enumerate(photo.faces, start=1):
        if prediction.face is None:  # the report's baseline judges the whole photo: nothing to box
            continue
        key = verdict_key(prediction)
        left, top, right, bottom = _corners(prediction.face, factor)
        draw.rectangle((left, top, right, bottom), outline=COLOURS[key], width=line)
        label = f"{number} {SYMBOL[key]}"
        text_box = draw.textbbox((0, 0), label, font=tag_font)
        width, height = text_box[2] - text_box[0] + 2 * line, text_box[3] - text_box[1] + 2 * line
        # The tag sits above the box, or inside its top edge when the box touches the photo's top.
        y = top - height if top - height >= 0 else top
        draw.rectangle((left, y, left + width, y + height), fill=COLOURS[key])
        draw.text((left + line - text_box[0], y + line - text_box[1]), label, fill="white", font=tag_font)
    return _jpeg(image)


def plain(photo: PhotoPrediction) -> bytes:
    """A JPEG of the photo as it was judged, unmarked: the answer to a clip with one face shows
    the frame judged."""
    return _jpeg(_shown(photo))


def _shown(photo: PhotoPrediction) -> Image.Image:
    """The photo at most LONGEST_SIDE long."""
    image = Image.fromarray(photo.pixels)
    scale = min(1.0, LONGEST_SIDE / max(image.size))
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    return image


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _corners(face: FaceBox, factor: float) -> tuple[int, int, int, int]:
    return (
        round(face.x * factor),
        round(face.y * factor),
        round((face.x + face.width) * factor),
        round((face.y + face.height) * factor),
    )
