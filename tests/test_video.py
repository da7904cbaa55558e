"""Video notes, videos, GIFs and video files: judged on their best frame, answered with it; and
every clip the bot refuses, cheaply and with a clear answer.

Clips are generated here: known face photos filmed by a moving phone (`tests.support.clips.panned_clip`,
MPEG-4 in MP4), GIFs written by Pillow, an AVI, and hostile clips.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from model import video
from model.explain import explain
from model.images import ImageError
from model.messages import Message
from storage.tables import PredictionRow
from tests.support import ROOT
from tests.support.bot_harness import RunningBot, make_service, make_settings, verdict_of
from tests.support.clips import (
    coded_clip,
    edit_list_bomb,
    h264_in_mp4,
    many_tracks_mkv,
    panned_clip,
    resize_bomb,
    sample_table_bomb,
    shaken,
)
from tests.support.photos import encode, textured
from training.drawn_faces import drawn_face, group_photo


def clip_of(picture: Image.Image, **options) -> bytes:
    return panned_clip(np.asarray(picture), **options)


def gif_of(picture: Image.Image, frames: int = 12) -> bytes:
    """An animated GIF zooming into `picture`, as a GIF file (not Telegram's MP4 copy of one)."""
    width, height = picture.size
    zoomed = [
        picture.crop((i * 2, i * 2, width - i * 2, height - i * 2)).resize((width, height)) for i in range(frames)
    ]
    return encode(zoomed[0], "GIF", save_all=True, append_images=zoomed[1:], duration=100, loop=0)


def frame_number(frame: np.ndarray) -> int:
    return round(float(frame.mean()) / 3)


def answers(fake, chat_id: int) -> list:
    return sorted(fake.calls("sendMessage", chat_id) + fake.calls("sendPhoto", chat_id), key=lambda r: r.at)


def caption_verdict(reply) -> str:
    """The label of a clip's answer: its caption read like a text verdict."""
    return verdict_of(type(reply)(reply.method, {"text": reply.params["caption"]}, reply.at))


def test_a_video_note_is_answered_once_with_its_frame_and_verdict(bot, fake, known_photo):
    fake.send_clip(300, "video_note", clip_of(known_photo("without_mask"), blurred=0.3))
    reply = fake.wait_for(lambda: answers(fake, 300))[0]
    bot.wait_idle()
    assert [r.method for r in answers(fake, 300)] == ["sendPhoto"]  # one answer: the frame and the verdict
    assert caption_verdict(reply) == "without_mask"
    picture = Image.open(io.BytesIO(reply.params["photo"]))
    assert picture.format == "JPEG" and picture.size == (480, 480)
    assert [b["text"] for b in reply.params["reply_markup"]["inline_keyboard"][0]][:2] == ["👍 Right", "👎 Wrong"]
    with bot.service.repository.database.session() as session:
        row = session.scalars(select(PredictionRow)).one()
    assert (row.input_kind, row.image_width, row.image_height, row.face_index) == ("video_note", 480, 480, 1)


def test_why_under_a_clip_judges_the_clip_again(bot, fake, known_photo, predictor):
    data = clip_of(known_photo("without_mask"), blurred=0.3)
    clip = fake.send_clip(302, "video_note", data)
    reply = fake.wait_for(lambda: answers(fake, 302))[0]
    [why] = [b for b in reply.params["reply_markup"]["inline_keyboard"][0] if b["text"] == "🔍 Why?"]
    fake.press(302, reply, why["callback_data"])
    picture = fake.wait_for(lambda: len(fake.calls("sendPhoto", 302)) >= 2 and fake.calls("sendPhoto", 302))[1]
    assert [r.params["file_id"] for r in fake.calls("download")] == [clip, clip]
    [face] = video.predict_clip(data, predictor).faces
    assert face.class_maps is not None
    assert picture.params["photo"] == explain(face.pixels, face.class_maps, "without_mask", face.crop_landmarks).picture


CLIP_KINDS = {
    # name: (how Telegram sends it, the picture's size or None for a GIF file, the row's input kind)
    "video": ("video", (640, 360), "video"),
    "animation": ("animation", (480, 480), "animation"),
    "gif animation": ("animation", None, "animation"),
    "video file": ("document", (480, 480), "video_document"),
}


@pytest.mark.parametrize("name", list(CLIP_KINDS))
def test_videos_gifs_and_video_files_are_checked_like_photos(bot, fake, known_photo, name):
    kind, size, input_kind = CLIP_KINDS[name]
    picture = known_photo("with_mask")
    data = gif_of(picture.resize((320, 300))) if size is None else clip_of(picture, size=size)
    fake.send_clip(301, kind, data)
    reply = fake.wait_for(lambda: answers(fake, 301))[0]
    assert reply.method == "sendPhoto" and caption_verdict(reply) == "with_mask"
    bot.wait_idle()
    with bot.service.repository.database.session() as session:
        row = session.scalars(select(PredictionRow)).one()
    assert row.input_kind == input_kind


def test_a_clip_of_a_group_is_answered_as_a_group_photo(bot, fake, predictor):
    group = Image.open(io.BytesIO(group_photo(4, (960, 720))))
    data = clip_of(group, size=(960, 720), zoom=1.0)
    fake.send_clip(302, "video", data, width=960, height=720)
    reply = fake.wait_for(lambda: answers(fake, 302))[0]
    assert reply.method == "sendPhoto" and reply.params["caption"].startswith("<b>4 faces</b>")
    numbers = [b["text"] for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    assert numbers == ["1", "2", "3", "4"]
    # "Why?" on face 2 judges the clip again, not the annotated frame, whose boxes would move the map.
    fake.press(302, reply, reply.params["reply_markup"]["inline_keyboard"][0][1]["callback_data"])
    rate = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]["inline_keyboard"]
    fake.press(302, reply, rate[0][2]["callback_data"])
    picture = fake.wait_for(lambda: len(fake.calls("sendPhoto", 302)) >= 2 and fake.calls("sendPhoto", 302))[1]
    face = video.predict_clip(data, predictor).faces[1]
    assert face.class_maps is not None and picture.params["caption"].startswith("On face 2 ")
    assert picture.params["photo"] == explain(face.pixels, face.class_maps, face.label, face.crop_landmarks).picture


def test_rating_a_clip_answer_thanks_in_its_caption(bot, fake, known_photo):
    fake.send_clip(303, "video_note", clip_of(known_photo("with_mask")))
    reply = fake.wait_for(lambda: answers(fake, 303))[0]
    fake.press(303, reply, reply.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])  # Right
    consent = fake.wait_for(lambda: fake.calls("editMessageReplyMarkup"))[0].params["reply_markup"]
    fake.press(303, reply, consent["inline_keyboard"][0][1]["callback_data"])  # no, don't share
    thanks = fake.wait_for(lambda: fake.calls("editMessageCaption"))[0]
    assert thanks.params["caption"].startswith("✅ Mask on") and "Thanks for your feedback" in thanks.params["caption"]
    assert not fake.calls("editMessageText")


def hostile_clip(header_side: int, frame_side: int, frames: int = 3) -> bytes:
    """An MP4 whose header says `header_side` pixels and whose later frames are `frame_side`:
    H.264 carries its picture size in the stream too, and may change it halfway."""
    stream_bytes = b""
    for side, count in ((header_side, frames), (frame_side, frames)):
        codec = av.CodecContext.create("libx264", "w")
        codec.width = codec.height = side
        codec.pix_fmt = "yuv420p"
        codec.time_base = Fraction(1, 10)
        codec.options = {"x264-params": "repeat-headers=1", "preset": "ultrafast"}
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), 90, np.uint8), format="rgb24")
            frame.pts = index
            stream_bytes += b"".join(bytes(packet) for packet in codec.encode(frame))
        stream_bytes += b"".join(bytes(packet) for packet in codec.encode(None))
    return h264_in_mp4(stream_bytes, fps=10)


def test_clips_over_the_limits_get_one_clear_answer_each(bot, fake):
    # Refused from what the update declares: nothing is downloaded.
    declared = {
        310: ("video_note", {"duration": 75}, "up to 60 s"),
        311: ("video", {"file_size": 25 * 1024 * 1024}, "up to 20 MB"),
        312: ("video", {"width": 3840, "height": 2160}, "up to 1,920 pixels a side"),
        313: ("animation", {"width": 16, "height": 16}, "only 16x16 pixels"),
    }
    declared_files = {
        fake.send_clip(user, kind, b"never downloaded", **fields) for user, (kind, fields, _) in declared.items()
    }
    # Refused from the file: what was declared passed, the container tells otherwise.
    inside = {
        320: (coded_clip(62, fps=1), "61 s long"),  # declared 3 s
        321: (clip_of(textured(2000, 200), size=(2000, 200), seconds=1), "2000x200 pixels"),
        # 64 px in its header, 2000 px after: judged on the frames before the decoder refused one.
        322: (hostile_clip(64, 2000), "can't find a face in this video"),
        323: (np.random.default_rng(0).bytes(50_000), "damaged"),
        324: (clip_of(textured())[:20_000], "damaged"),  # cut off before its index
        325: (encode(textured(), "PNG"), "damaged"),  # not a clip at all
        326: (b"", "empty"),
        327: (coded_clip(0), "empty"),
        328: (coded_clip(3700, (32, 32), fps=120), "more than 3,600 frames"),  # in 31 s
    }
    for user, (data, _) in inside.items():
        fake.send_clip(user, "video_note", data)
    bot.wait_idle(timeout=60)
    for user, (_, _, expected) in declared.items():
        assert [expected in r.params.get("text", "") for r in answers(fake, user)] == [True], (
            user,
            answers(fake, user),
        )
    for user, (_, expected) in inside.items():
        assert [expected in r.params.get("text", "") for r in answers(fake, user)] == [True], (
            user,
            answers(fake, user),
        )
    assert not declared_files & {r.params["file_id"] for r in fake.calls("getFile")}
    assert 'kind="handler"' not in bot.metrics_text()


def test_a_clip_counts_like_a_photo_against_the_rate_limit(fake, tmp_path, predictor, shipped_model_dir, known_photo):
    settings = make_settings(fake, tmp_path, shipped_model_dir, rate_limit_per_minute=2)
    running = RunningBot(fake, settings, make_service(settings, predictor)).start()
    try:
        fake.send_photo(330, encode(known_photo("with_mask")))
        fake.wait_for(lambda: answers(fake, 330))
        fake.send_clip(330, "video_note", clip_of(known_photo("with_mask")))
        fake.wait_for(lambda: len(answers(fake, 330)) >= 2)
        third = fake.send_clip(330, "video_note", clip_of(known_photo("with_mask")))
        running.wait_idle()
        replies = answers(fake, 330)
        assert [r.method for r in replies] == ["sendMessage", "sendPhoto", "sendMessage"]
        assert "faster than I can" in replies[2].params["text"]
        assert third not in {r.params["file_id"] for r in fake.calls("getFile")}
    finally:
        running.stop()


def test_frames_are_sampled_across_the_whole_clip():
    frames = list(video.sample_frames(coded_clip(80)))
    numbers = [frame_number(frame) for frame in frames]
    assert len(frames) == video.SAMPLES and numbers == sorted(numbers)
    assert numbers[0] <= 10 and numbers[-1] >= 70  # spread from start to end, every 10 frames


def test_past_the_decoding_budget_samples_are_key_frames(monkeypatch):
    data = coded_clip(80)
    with av.open(io.BytesIO(data)) as container:
        keys = [i for i, p in enumerate(p for p in container.demux(video=0) if p.size) if p.is_keyframe]
    assert keys == list(range(0, 80, 12))
    monkeypatch.setattr(video, "DECODE_BUDGET_PIXELS", 64 * 64)  # one frame
    numbers = [frame_number(frame) for frame in video.sample_frames(data)]
    # Compression shifts a grey by a level or two: a frame's number is known to within one.
    assert numbers == sorted(set(numbers)) and all(min(abs(n - k) for k in keys) <= 1 for n in numbers)


def test_pictures_larger_than_the_header_said_are_refused_by_the_decoder():
    frames = list(video.sample_frames(hostile_clip(64, 2000, frames=6)))
    # Half the samples fall among the 2000 px pictures: had the decoder made one, its size check
    # would have refused the clip (ClipTooLarge) after decoding it.
    assert frames and all(frame.shape == (64, 64, 3) for frame in frames)


def test_a_phone_clip_filmed_sideways_is_turned_upright():
    upright = np.zeros((64, 96, 3), np.uint8)
    upright[:12, :, 0] = 255  # a red band along the top
    output = io.BytesIO()
    with av.open(output, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 96, "yuv420p"
        stream.set_display_rotation(90)  # the sensor's picture, turned a quarter clockwise, is shown upright
        sensor = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(upright, -1)), format="rgb24")
        for _ in range(5):
            container.mux(stream.encode(sensor))
        container.mux(stream.encode(None))
    frame = next(video.sample_frames(output.getvalue()))
    assert frame.shape == (64, 96, 3)
    assert frame[:8, :, 0].mean() > 200 and frame[-8:, :, 0].mean() < 50


def test_of_the_frames_with_the_largest_face_the_sharpest_is_judged(predictor, monkeypatch):
    background = np.asarray(textured(480, 480))
    small = drawn_face(background, size=0.3)
    large = drawn_face(background, size=0.6)
    smeared = shaken(large, 21)
    monkeypatch.setattr(video, "decoded_frames", lambda data: iter([small, smeared, textured_array(), large, smeared]))
    choice = video.choose(b"", predictor.detector.faces)
    assert choice.frame is large and len(choice.faces) == 4  # every frame with a face votes


def test_one_face_is_voted_by_every_frame_showing_it(predictor, known_photo, monkeypatch):
    masked = np.asarray(known_photo("with_mask").resize((480, 480)))
    bare = np.asarray(known_photo("without_mask").resize((480, 480)))
    monkeypatch.setattr(video, "decoded_frames", lambda data: iter([masked, bare, masked, masked]))
    photo = video.predict_clip(b"", predictor)
    choice = video.choose(b"", predictor.detector.faces)
    expected = predictor.probabilities(choice.faces).mean(axis=0)
    (face,) = photo.faces
    assert face.label == "with_mask" and face.confidence == pytest.approx(expected.max())
    assert sum(face.probabilities.values()) == pytest.approx(1.0)


def textured_array() -> np.ndarray:
    return np.asarray(textured(480, 480, seed=5))


def test_a_clip_without_a_face_says_so_with_tips(predictor, monkeypatch):
    dark = (np.asarray(textured(480, 480)) * 0.15).astype(np.uint8)
    monkeypatch.setattr(video, "decoded_frames", lambda data: iter([dark, dark]))
    with pytest.raises(video.NoFaceInClip) as refused:
        video.choose(b"", predictor.detector.faces)
    assert "can't find a face in this video" in str(refused.value)
    assert any("too dark" in str(tip) for tip in refused.value.framing.tips)


@pytest.mark.parametrize(
    ("facts", "refusal"),
    [
        ({"size": 20 * 1024 * 1024 + 1}, video.ClipTooBig),
        ({"seconds": 60.5}, video.ClipTooLong),
        ({"width": 1921, "height": 1080}, video.ClipTooLarge),
        ({"width": 480, "height": 31}, video.ClipTooSmall),
    ],
)
def test_limits_refuse_past_each_bound(facts, refusal):
    with pytest.raises(refusal):
        video.check_limits(**facts)
    video.check_limits(size=20 * 1024 * 1024, seconds=60, width=1920, height=32)
    video.check_limits()  # what the update does not declare is checked in the container


def test_only_mp4_matroska_and_gif_containers_are_opened():
    avi = io.BytesIO()
    with av.open(avi, "w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 128, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(video.NotAClip):
        next(video.sample_frames(avi.getvalue()))
    assert issubclass(video.ClipError, ImageError)  # the bot answers it like a bad photo


def test_a_clip_whose_first_bytes_claim_another_container_is_damaged_not_tiny():
    mp4 = coded_clip(20)
    with pytest.raises(video.NotAClip, match="damaged"):
        next(video.sample_frames(b"GIF89a" + mp4[6:]))


def test_the_decoding_budget_counts_the_pixels_decoded_not_those_the_header_claims(monkeypatch):
    # A resize bomb: 64 px in its header and first frames, then 80 pictures of 640 px after one
    # key frame. Reckoned from the header, a budget of 20 such pictures covers 2,000 frames.
    bomb = resize_bomb(64, 640, frames=80)
    monkeypatch.setattr(video, "DECODE_BUDGET_PIXELS", 20 * 640 * 640)
    frames = list(video.sample_frames(bomb))
    # The samples past the budget are the one key frame, already taken: 20 pictures decoded
    # give two samples, where all eight took decoding every frame.
    assert 1 <= len(frames) <= 3
    assert all(frame.shape == (640, 640, 3) for frame in frames)


def test_pictures_larger_than_reckoned_end_the_way_to_a_sample_at_the_frame_reached(monkeypatch):
    # Reckoned at 64 px, the way to the first sample (frame 20) fits the budget; at 640 px the
    # budget ends at the second picture: that frame is the sample, not a clip without one.
    bomb = resize_bomb(64, 640, frames=80)
    monkeypatch.setattr(video, "DECODE_BUDGET_PIXELS", 640 * 640)
    monkeypatch.setattr(video, "MAX_SIDE", 640)  # the stop for stamps that never come, sooner
    frames = list(video.sample_frames(bomb, count=2))
    assert len(frames) == 1 and frames[0].shape == (640, 640, 3)


def test_a_clip_is_refused_past_its_cpu_budget(monkeypatch):
    monkeypatch.setattr(video, "CPU_SECONDS", 0.0)
    with pytest.raises(video.ClipTooSlow) as refused:
        list(video.sample_frames(coded_clip(80)))
    assert "more work to decode" in str(refused.value)


def test_a_decoder_that_overruns_is_killed_and_the_clip_unreadable(monkeypatch):
    # A millisecond: less than opening any clip takes, however quiet the machine (at 10 ms a
    # small clip was sometimes decoded in time).
    monkeypatch.setattr(video, "DECODER_SECONDS", 0.001)
    with pytest.raises(video.ClipUnreadable) as refused:
        video.decoded_frames(coded_clip(120, (320, 240)))
    assert "couldn't read this video" in str(refused.value)


def test_the_decoder_child_sends_frames_and_refusals_as_they_were():
    frames = video.decoded_frames(coded_clip(80))
    assert [frame_number(frame) for frame in frames] == [
        frame_number(frame) for frame in video.sample_frames(coded_clip(80))
    ]
    with pytest.raises(video.TooManyFrames):
        video.decoded_frames(coded_clip(3700, (32, 32), fps=120))


def test_each_clip_is_decoded_in_a_process_of_its_own_and_a_dead_server_is_replaced():
    video.decoded_frames(coded_clip(20))
    server = video._server.process
    assert server is not None and server.poll() is None
    # A clip whose process is killed leaves the server, and the next clip, as they were.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(video, "DECODER_SECONDS", 0.001)  # less than opening any clip takes
        with pytest.raises(video.ClipUnreadable):
            video.decoded_frames(coded_clip(120, (320, 240)))
    assert len(video.decoded_frames(coded_clip(20))) == video.SAMPLES
    assert video._server.process is server
    server.kill()
    server.wait()
    assert len(video.decoded_frames(coded_clip(20))) == video.SAMPLES
    assert video._server.process is not server


JUDGE_A_CLIP = """
import sys
from model import video
from tests.support.processes import peak_memory_mb

data = sys.stdin.buffer.read()
video.check_structure = lambda data: None  # this test is of the decoding process alone
import av  # FFmpeg's libraries loaded before the peak is read, as in a bot that has seen a clip
before = peak_memory_mb()
try:
    video.choose(data, lambda rgb: [])
except video.ClipError as error:
    print(type(error).__name__)
print(peak_memory_mb() - before)
"""


@pytest.mark.parametrize("name", ["index claims 85 M samples", "the same with two tracks"])
def test_a_container_bomb_costs_the_bots_process_no_memory(name):
    # In the process that judges clips (a fresh one: its high-water mark is this clip's), the
    # container is never opened: FFmpeg's index of 85 M samples took a gigabyte there.
    bomb = sample_table_bomb(tracks=1 if name == "index claims 85 M samples" else 2)
    judged = subprocess.run(
        [sys.executable, "-c", JUDGE_A_CLIP],
        input=bomb,
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        timeout=60,
    )
    refusal, grown = judged.stdout.decode().split()
    assert refusal in {"ClipTooSmall", "NotAClip", "ClipUnreadable"}
    assert float(grown) < 50, f"the judging process grew by {grown} MB"


def test_photos_never_wait_behind_queued_clips(bot, fake, known_photo, monkeypatch):
    # Three users' 15 MB clips: one being judged (held here), two waiting. Sharing the photos'
    # 40 MB budget, the third held every later photo behind it.
    release = threading.Event()

    def judging(data: bytes):
        release.wait(30)
        raise video.NotAClip(Message("held"))

    monkeypatch.setattr(bot.service.judge, "_classify_clip", judging)
    big = np.random.default_rng(0).bytes(15 * 1024 * 1024)
    for user in (340, 341, 342):
        fake.send_clip(user, "video", big)
    fake.wait_for(lambda: bot.service.judge.clip_bytes.held >= 30 * 1024 * 1024)
    try:
        fake.send_photo(343, encode(known_photo("with_mask")))
        assert verdict_of(fake.replies_to(343, timeout=20)[0]) == "with_mask"
        assert not any(answers(fake, user) for user in (340, 341, 342))
    finally:
        release.set()
    bot.wait_idle(timeout=60)
    assert all(len(answers(fake, user)) == 1 for user in (340, 341, 342))


def test_a_user_has_one_clip_judged_at_a_time(bot, fake, known_photo, monkeypatch):
    release = threading.Event()
    judge = bot.service.judge._classify_clip

    def judging(data: bytes):
        release.wait(30)
        return judge(data)

    monkeypatch.setattr(bot.service.judge, "_classify_clip", judging)
    fake.send_clip(350, "video_note", clip_of(known_photo("with_mask")))
    fake.wait_for(lambda: bot.service.judge.clip_bytes.held)
    second = fake.send_clip(350, "video_note", clip_of(known_photo("with_mask")))
    fake.send_clip(351, "video_note", clip_of(known_photo("with_mask")))  # another user's waits its turn
    try:
        (busy,) = fake.replies_to(350, timeout=20)
        assert "still checking the last video you sent" in busy.params["text"]
        assert second not in {r.params["file_id"] for r in fake.calls("getFile")}
    finally:
        release.set()
    bot.wait_idle(timeout=60)
    assert [r.method for r in answers(fake, 350)] == ["sendMessage", "sendPhoto"]
    assert [r.method for r in answers(fake, 351)] == ["sendPhoto"]


def test_containers_built_to_make_ffmpeg_allocate_are_refused_before_any_decoder(monkeypatch):
    def no_decoder(data: bytes, count: int):
        raise AssertionError("a clip was sent to be decoded")

    monkeypatch.setattr(video._server, "decode", no_decoder)
    bombs = {
        "85 M samples": sample_table_bomb(),
        "two tracks of 85 M samples": sample_table_bomb(tracks=2),
        "2,000 edits": edit_list_bomb(entries=2000, frames=3),
        "12 Matroska tracks": many_tracks_mkv(tracks=12, side=64),
    }
    for bomb in bombs.values():
        with pytest.raises(video.NotAClip, match="damaged"):
            video.decoded_frames(bomb)
    for plain in (coded_clip(30), many_tracks_mkv(tracks=2, side=64), edit_list_bomb(entries=2, frames=3)):
        video.check_structure(plain)


@pytest.mark.parametrize(
    "answer",
    [
        b"F\x00\x00\x00\x10short",  # cut short
        b"E" + (22).to_bytes(4, "big") + b'{"kind": "ValueError"}',  # not a refusal
        b"X\x00\x00\x00\x00",
    ],
)
def test_what_a_decoding_process_sends_back_is_read_as_data_only(answer):
    with pytest.raises(ValueError):
        video._read_records(answer)


def test_a_refusal_from_a_decoding_process_cannot_make_the_bot_look_anything_up():
    def refusal(template: str) -> bytes:
        payload = json.dumps({"kind": "NotAClip", "template": template, "values": {"size": "1"}}).encode()
        return b"E" + len(payload).to_bytes(4, "big") + payload

    _, refused = video._read_records(refusal("This video is {size} pixels."))
    assert str(refused) == "This video is 1 pixels."
    for hostile in ("{size.__class__}", "{size:>999999999}", "{size[0]}", "{other}"):
        with pytest.raises(ValueError):
            video._read_records(refusal(hostile))
