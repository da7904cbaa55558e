"""Every odd input a phone or a prankster can send, decoded or refused with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model.images import ImageTooLarge, ImageTooSmall, NotAnImage, decode_image
from tests.support.photos import encode, face_like, hostile_files, textured


def test_plain_jpeg_decodes_to_rgb_uint8():
    decoded = decode_image(encode(face_like(320, 240)))
    assert decoded.pixels.shape == (240, 320, 3)
    assert decoded.pixels.dtype == np.uint8
    assert decoded.format == "JPEG"


def test_exif_rotated_selfie_is_turned_upright():
    image = face_like(400, 300)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": a phone held upright
    decoded = decode_image(encode(image, exif=exif.tobytes()))
    assert decoded.pixels.shape == (400, 300, 3)


def test_cmyk_jpeg_becomes_rgb():
    decoded = decode_image(encode(face_like().convert("CMYK")))
    assert decoded.original_mode == "CMYK"
    assert decoded.pixels.shape[2] == 3


def test_16_bit_png_keeps_its_brightness():
    ramp = np.tile(np.linspace(0, 65535, 256), (64, 1)).astype(np.uint16)
    decoded = decode_image(encode(Image.frombytes("I;16", (256, 64), ramp.tobytes()), "PNG"))
    assert decoded.pixels.shape == (64, 256, 3)
    assert decoded.pixels[:, 0].mean() < 5 and decoded.pixels[:, -1].mean() > 250


def test_palette_png_with_transparency_gets_a_white_background():
    image = Image.new("P", (64, 64), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.info["transparency"] = 0
    decoded = decode_image(encode(image, "PNG", transparency=0))
    assert (decoded.pixels == 255).all()


def test_grayscale_with_alpha_becomes_rgb():
    image = Image.new("LA", (64, 64), (100, 255))
    decoded = decode_image(encode(image, "PNG"))
    assert decoded.pixels.shape == (64, 64, 3)
    assert int(decoded.pixels[0, 0, 0]) == 100


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    decoded = decode_image(data)
    assert decoded.frames == 2
    assert decoded.pixels[0, 0, 0] > 200 and decoded.pixels[0, 0, 2] < 50


def test_one_pixel_image_is_refused_as_too_small():
    with pytest.raises(ImageTooSmall, match="1x1"):
        decode_image(encode(Image.new("RGB", (1, 1)), "PNG"))


def test_decompression_bomb_is_refused_before_decoding():
    # 20000x20000 pixels of one colour: a tiny PNG that would need 1.2 GB decoded.
    bomb = encode(Image.new("L", (20000, 20000)), "PNG")
    assert len(bomb) < 1_000_000
    with pytest.raises(ImageTooLarge, match="too large"):
        decode_image(bomb)


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", b"GIF89a not really", b"\x00" * 1000],
    ids=["empty", "pdf", "fake-gif", "zeros"],
)
def test_non_images_are_refused_with_a_readable_message(data):
    with pytest.raises(NotAnImage) as raised:
        decode_image(data)
    assert "image" in str(raised.value)


def test_truncated_jpeg_is_refused_as_damaged():
    data = encode(face_like(640, 480))
    with pytest.raises(NotAnImage, match="damaged"):
        decode_image(data[: len(data) // 3])


def test_a_large_jpeg_decodes_at_reduced_scale_but_reports_its_own_size():
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_image(encode(face_like(4000, 3000), exif=exif.tobytes()), max_side=512)
    assert (decoded.width, decoded.height) == (3000, 4000)
    assert decoded.pixels.shape == (1000, 750, 3)  # 1/4 scale: the smallest that keeps 512 px
    assert decode_image(encode(face_like(400, 300)), max_side=512).pixels.shape == (300, 400, 3)


@pytest.mark.parametrize("name", ["16-bit png", "int32 tiff", "lossless rgba webp", "8-bit png", "palette png"])
def test_small_files_that_decode_huge_cost_little_memory_and_time(tmp_path, name):
    import subprocess
    import sys

    from model.predictor import DECODE_SIDE
    from tests.support import ROOT

    data = dict(hostile_files())[name]
    assert len(data) < 20 * 1024 * 1024
    path, phone_photo = tmp_path / "file", tmp_path / "photo.jpg"
    path.write_bytes(data)
    phone_photo.write_bytes(encode(textured(4032, 3024)))  # what a phone sends: 12 MP

    # Only the decoder is imported in the child. Its peak is read from VmHWM, which starts afresh
    # with the child's own memory; ru_maxrss would start at this (large) process's peak. Its time
    # is compared with a phone photo's, decoded in the same child after it.
    script = (
        "import sys, time\n"
        "from model.images import ImageError, decode_image\n"
        "from tests.support.processes import peak_memory_mb\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = peak_memory_mb()\n"
        "started = time.perf_counter()\n"
        "try:\n"
        "    outcome = 'decoded'; decode_image(data, max_side=int(sys.argv[2]))\n"
        "except ImageError as error:\n"
        "    outcome = type(error).__name__\n"
        "seconds, grown = time.perf_counter() - started, peak_memory_mb() - before\n"
        "started = time.perf_counter()\n"  # then the photo, once the peak is read
        "decode_image(open(sys.argv[3], 'rb').read(), max_side=int(sys.argv[2]))\n"
        "print(outcome, grown, seconds / (time.perf_counter() - started))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path), str(DECODE_SIDE), str(phone_photo)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    outcome, megabytes, times_a_photo = result.stdout.split()
    assert outcome in ("decoded", "ImageTooLarge"), result.stderr
    assert float(megabytes) <= 150, f"{name}: {outcome} took {megabytes} MB"
    # Measured on 2 cores: 0.2 (the 8-bit PNG) to 9 times (the 16-bit PNG) a 12 MP JPEG's time; the
    # bound this replaces, 2 s, was about 40 times.
    assert float(times_a_photo) <= 40, f"{name}: {outcome} took {times_a_photo} times a 12 MP photo's time"


def test_slow_decodes_are_told_from_the_header_alone():
    from model.images import slow_to_decode

    huge_png = dict(hostile_files())["palette png"]
    assert slow_to_decode(huge_png)
    assert not slow_to_decode(encode(face_like(4000, 3000)))  # a JPEG decodes at reduced scale
    assert not slow_to_decode(encode(face_like(2000, 1500), "PNG"))
    assert not slow_to_decode(b"not an image at all")


def heic(image: Image.Image) -> bytes:
    """An iPhone's format, made with pillow-heif's own HEVC encoder."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(image, "HEIF", quality=70)


def test_an_iphone_heic_decodes_upright_like_a_jpeg():
    image = face_like(480, 360)
    exif = Image.Exif()
    exif[0x0112] = 6  # turned, as a phone held upright records it
    decoded = decode_image(heic(image))
    assert decoded.format == "HEIF" and decoded.pixels.shape == (360, 480, 3)
    # HEVC is lossy: the picture stays the picture, within a few levels on average.
    assert np.abs(decoded.pixels.astype(int) - np.asarray(image, dtype=int)).mean() < 8
    assert decode_image(encode(image, "AVIF")).format == "AVIF"


def test_a_heic_that_declares_a_huge_size_is_refused_before_decoding():
    import struct

    data = heic(face_like(320, 240))
    size = data.index(b"ispe") + 8  # the image's spatial extent: version and flags, then width, height
    bomb = data[:size] + struct.pack(">II", 60000, 60000) + data[size + 8 :]
    with pytest.raises(ImageTooLarge, match="too large"):
        decode_image(bomb)


def test_a_broken_heic_is_refused_as_damaged():
    data = heic(face_like(320, 240))
    with pytest.raises(NotAnImage, match="damaged"):
        decode_image(data[:-100])


def test_a_big_heic_goes_to_the_slow_lane():
    from model.images import slow_to_decode

    assert slow_to_decode(heic(Image.new("RGB", (4032, 3024), (90, 120, 150))))
    assert not slow_to_decode(heic(face_like(640, 480)))
