"""`maskbot watch`: people followed and counted from a file, an MJPEG camera that drops, and the
threshold alert sent once; nothing but counts reaches the database."""

from __future__ import annotations

import io
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import inspect, select
from sqlalchemy.exc import OperationalError

from bot.config import ConfigError
from camera import live
from camera import run as camera_run
from camera import source as camera_source
from camera.config import check_name, load_watch_settings
from camera.run import LiveViewError, watch
from camera.source import Reader
from camera.watcher import Judged, Seen
from model import CLASS_NAMES
from model.faces import FaceBox, FaceDetector
from model.registry import SHIPPED_MODEL
from model.tracking import LOST_AFTER, Tracker
from storage import cameras
from storage.database import Database
from storage.tables import CameraCount
from tests.support import ROOT, unavailable
from tests.support.bot_harness import free_port
from tests.support.cameras import MjpegCamera, Walker, background, close_ups, frame_at, h264_file, jpegs
from tests.support.fake_telegram import TOKEN, FakeTelegram

SECONDS = 12.0
CONSOLE_TOKEN = "k2Vq7N1xZp0LrT8wYb3HcJ5mFs9DgQ4e"


@pytest.fixture(scope="module")
def walkers() -> list[Walker]:
    """Four people: two at once (one each way), a pause, two more; two wear masks, two do not."""
    masked = close_ups("with_mask", 2)
    bare = close_ups("without_mask", 2)
    return [
        Walker(masked[0], 0.5, 4.5, 40),
        Walker(bare[0], 1.0, 5.0, 420, rightwards=False),
        Walker(masked[1], 6.0, 10.0, 240),
        Walker(bare[1], 7.0, 11.0, 60, rightwards=False),
    ]


@pytest.fixture(scope="module")
def clip(walkers, tmp_path_factory) -> Path:
    return h264_file(tmp_path_factory.mktemp("camera") / "door.mp4", walkers, SECONDS)


def settings_for(data_dir: Path, **extra: str):
    return load_watch_settings({"DATA_DIR": str(data_dir), "MODEL_DIR": str(SHIPPED_MODEL), **extra})


def counted(database_url: str, camera: str = "door") -> dict[str, int]:
    database = Database(database_url)
    try:
        now = datetime.now(UTC)
        tallies = cameras.tallies(database, now - timedelta(days=1), now + timedelta(days=1), camera)
    finally:
        database.dispose()
    return tallies[0].per_label if tallies else {}


def face(x: int, y: int = 100, width: int = 80) -> FaceBox:
    return FaceBox(x, y, width, width)


def test_a_face_that_moves_more_than_its_width_between_samples_keeps_its_person():
    tracker = Tracker()
    ids = [tracker.update([face(100 + 150 * step)], step * 0.25)[0][0].id for step in range(6)]
    assert len(set(ids)) == 1


def test_two_people_passing_each_other_stay_two_people():
    tracker = Tracker()
    seen = []
    for step in range(8):
        tracks, _ = tracker.update([face(100 + 100 * step, 100), face(900 - 100 * step, 400)], step * 0.25)
        seen.append((tracks[0].id, tracks[1].id))
    assert len(set(seen)) == 1 and seen[0][0] != seen[0][1]


def test_someone_coming_in_where_another_walked_out_is_someone_else():
    tracker = Tracker()
    leaving = [tracker.update([face(300 - 100 * step)], step * 0.25, (1280, 720))[0][0].id for step in range(4)]
    coming = tracker.update([face(0)], 1.5, (1280, 720))[0][0].id  # predicted off the left edge by now
    assert len(set(leaving)) == 1 and coming != leaving[0]


def test_a_person_is_counted_once_gone_with_the_verdict_of_their_frames():
    tracker = Tracker()
    votes = {0: [0.2, 0.7, 0.1], 1: [0.1, 0.8, 0.1], 2: [0.6, 0.3, 0.1]}
    for step, row in votes.items():
        tracks, gone = tracker.update([face(100 + 40 * step)], step * 0.25)
        tracks[0].vote(np.array(row))
        assert gone == []
    _, gone = tracker.update([], 0.5 + LOST_AFTER + 0.1)
    assert [(person.label, person.judged) for person in gone] == [("without_mask", 3)]
    assert tracker.tracks == []


def test_a_face_judged_in_one_frame_only_is_nobody():
    tracker = Tracker()
    tracks, _ = tracker.update([face(100)], 0.0)
    tracks[0].vote(np.array([1.0, 0.0, 0.0]))
    assert tracker.finish() == []


def test_a_file_is_read_once_and_its_people_counted_by_verdict(clip, tmp_path):
    settings = settings_for(tmp_path)
    outcome = watch(str(clip), "door", settings)
    assert outcome.failure is None
    assert outcome.counted == {"with_mask": 2, "without_mask": 2}
    assert counted(settings.bot.database_url) == {"with_mask": 2, "without_mask": 2}
    # About 4 frames a second of the clip's 12 s, whatever the clip's own 10 a second.
    assert 44 <= outcome.frames <= 49


def test_nothing_personal_reaches_the_database(clip, tmp_path):
    settings = settings_for(tmp_path, WATCH_STREAM_PORT=str(free_port()), CONSOLE_TOKEN=CONSOLE_TOKEN)
    watch(str(clip), "door", settings)
    database = Database(settings.bot.database_url)
    try:
        with database.engine.connect() as connection:
            inspector = inspect(connection)
            filled = {
                table: connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()
                for table in inspector.get_table_names()
                if table != "alembic_version"
            }
            columns = {column["name"] for column in inspector.get_columns("camera_counts")}
        with database.session() as session:
            labels = set(session.scalars(select(CameraCount.label)))
    finally:
        database.dispose()
    # Counts and the camera's own row; no face, crop, box, track or picture anywhere.
    assert {table for table, rows in filled.items() if rows} == {"camera_counts", "cameras"}
    assert columns == {"camera", "minute", "label", "people"}
    assert labels <= set(CLASS_NAMES)
    assert not any(path.suffix in (".jpg", ".png", ".mp4") for path in tmp_path.rglob("*"))


def test_an_mjpeg_camera_that_drops_mid_stream_is_resumed(walkers, tmp_path, caplog, monkeypatch):
    # Served at twice its speed: half the wait, people walking twice as fast.
    frames = jpegs(walkers, SECONDS)
    monkeypatch.setattr(camera_source, "RETRY_WAITS", (0.2,))
    with MjpegCamera(frames, fps=20, cut_after=len(frames) // 3) as camera, caplog.at_level(logging.INFO):
        settings = settings_for(tmp_path)
        stop = threading.Event()
        threading.Thread(target=_stop_when, args=(lambda: camera.position >= len(frames), stop), daemon=True).start()
        outcome = watch(camera.url, "door", settings, stop)
    assert camera.streams == 2
    # Logged once per outage, not per try: the cut, then the end of the camera's frames.
    logged = [record.message.split()[0] for record in caplog.records if record.name == "camera.source"]
    assert logged[:3] == ["event=source_lost", "event=source_back", "event=source_lost"]
    assert len(logged) == 3
    assert outcome.counted == {"with_mask": 2, "without_mask": 2}
    assert counted(settings.bot.database_url) == {"with_mask": 2, "without_mask": 2}


def test_a_stream_that_freezes_is_noticed_and_opened_again(walkers, tmp_path, caplog, monkeypatch):
    """A camera that stays connected but sends nothing: FFmpeg waits on its read (given a long
    READ_TIMEOUT here), so the watcher's own stall check must notice and open the source again."""
    frames = jpegs(walkers, SECONDS)
    monkeypatch.setattr(camera_source, "READ_TIMEOUT", 120.0)
    monkeypatch.setattr(camera_run, "STALL_SECONDS", 1.0)
    with MjpegCamera(frames, fps=20, stall_after=len(frames) // 2) as camera, caplog.at_level(logging.INFO):
        stop = threading.Event()
        threading.Thread(target=_stop_when, args=(lambda: camera.position >= len(frames), stop), daemon=True).start()
        outcome = watch(camera.url, "door", settings_for(tmp_path), stop)
    assert camera.streams == 2
    assert len([record for record in caplog.records if "event=decoder_stalled" in record.getMessage()]) == 1
    assert outcome.counted == {"with_mask": 2, "without_mask": 2}


def test_a_live_source_faster_than_its_judge_loses_samples_instead_of_queueing_them(walkers):
    frames = jpegs(walkers, 6.0)
    stop = threading.Event()
    with MjpegCamera(frames, fps=20) as camera:
        reader = Reader(camera.url, fps=10, stop=stop)
        reader.start()
        taken = []
        while (sample := reader.next(timeout=10)) is not None and len(taken) < 4:
            taken.append(sample.at)
            time.sleep(0.5)  # a judge that needs half a second a frame
        stop.set()
    # Each take is the newest sample, made within a tenth of a second before it: the 4 or so made
    # in between were dropped, none kept for later.
    assert len(taken) == 4 and min(b - a for a, b in itertools.pairwise(taken)) >= 0.5 - 0.1 - 0.05


def _stop_when(done, stop: threading.Event) -> None:
    """Stop a watch once the camera has sent everything and its last person has left: a live
    source is watched until it is stopped."""
    while not done():
        time.sleep(0.05)
    time.sleep(2 * LOST_AFTER)
    stop.set()


def test_the_threshold_alert_goes_out_once_whichever_watcher_sees_it_first(clip, tmp_path):
    telegram = FakeTelegram().start()
    try:
        env = {
            "BOT_TOKEN": TOKEN,
            "ADMIN_IDS": "501,502",
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_FILE_BASE_URL": telegram.base_file_url,
            "WATCH_ALERT_MINUTES": "60",
            "WATCH_ALERT_SHARE": "0.3",
            "WATCH_ALERT_MIN_PEOPLE": "3",
        }
        settings = settings_for(tmp_path, **env)
        watch(str(clip), "door", settings)
        watch(str(clip), "door", settings)  # a second watcher of the same camera, the same window
        sent = telegram.calls("sendMessage")
    finally:
        telegram.stop()
    assert sorted(int(request.params["chat_id"]) for request in sent) == [501, 502]
    assert "door" in sent[0].params["text"] and "2 of 4 people" in sent[0].params["text"]


def test_sigterm_stops_a_watch_and_writes_the_last_counts(walkers, tmp_path):
    frames = jpegs(walkers, SECONDS)
    with MjpegCamera(frames, fps=10) as camera:
        env = {**os.environ, "DATA_DIR": str(tmp_path), "MODEL_DIR": str(SHIPPED_MODEL), "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "watch", camera.url, "--name", "door"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while camera.position < 45 and time.monotonic() < deadline:  # the first two people in the picture
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "camera door: 2 people counted" in out
    assert counted(f"sqlite:///{tmp_path / 'maskbot.db'}") == {"with_mask": 1, "without_mask": 1}


def test_a_source_that_is_not_there_is_one_line(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "MODEL_DIR": str(SHIPPED_MODEL), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "watch", "http://127.0.0.1:9/none.mjpg", "--name", "door"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("maskbot: cannot open http://127.0.0.1:9/none.mjpg: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WATCH_FPS": "0"}, "WATCH_FPS must be above 0 and at most 15, not 0"),
        ({"WATCH_ALERT_SHARE": "half"}, "WATCH_ALERT_SHARE must be a number, not 'half'"),
        ({"WATCH_STREAM_PORT": "8091"}, "CONSOLE_TOKEN must be set"),
        (
            {
                "WATCH_STREAM_PORT": "8091",
                "CONSOLE_TOKEN": "k2Vq7N1xZp0LrT8wYb3HcJ5mFs9DgQ4e",
                "WATCH_STREAM_URL": "ftp://x",
            },
            "WATCH_STREAM_URL must be an http",
        ),
    ],
)
def test_a_bad_setting_is_named(env, message):
    with pytest.raises(ConfigError, match=message):
        load_watch_settings(env)


@pytest.mark.parametrize("name", ["", "a" * 65, "door/../x", "<b>", "-door"])
def test_a_camera_name_is_plain_and_short(name):
    with pytest.raises(ConfigError, match="the camera's name"):
        check_name(name)


def test_a_cameras_address_is_logged_without_its_password():
    assert camera_source.describe("rtsp://admin:hunter2@10.0.0.5:554/stream1") == "rtsp://…@10.0.0.5:554/stream1"


RTSP_SERVER = ROOT / "tests" / "support" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
"""Debian's python3: GStreamer's bindings are its packages, not the virtual environment's."""


@pytest.fixture
def rtsp_camera(clip):
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"], capture_output=True
    )
    if probe.returncode != 0:
        unavailable("GStreamer's RTSP server is not installed (gir1.2-gst-rtsp-server-1.0, python3-gst-1.0)")
    port = free_port()
    server = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SERVER), str(clip), str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        yield f"rtsp://127.0.0.1:{port}/door"
    finally:
        server.terminate()
        server.wait(10)


class StopAtFirstOutage(logging.Handler):
    """Stops a watch when its source first ends: the RTSP server played the clip once."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def emit(self, record: logging.LogRecord) -> None:
        if "event=source_lost" in record.getMessage():
            self.stop.set()


def test_an_rtsp_camera_is_watched_and_its_people_counted(rtsp_camera, tmp_path):
    stop = threading.Event()
    handler = StopAtFirstOutage(stop)
    logging.getLogger("camera.source").addHandler(handler)
    try:
        outcome = watch(rtsp_camera, "door", settings_for(tmp_path), stop)
    finally:
        logging.getLogger("camera.source").removeHandler(handler)
    assert outcome.failure is None
    assert outcome.counted == {"with_mask": 2, "without_mask": 2}
    # Sampled by the wall clock as the stream arrives: never more than 4 a second of its 12 s
    # (fewer when judging falls behind: those samples are dropped, not queued).
    assert outcome.frames <= 4 * SECONDS + 1


def live_frames(url: str, token: str | None, count: int) -> list[bytes]:
    """The first `count` JPEGs of a live view, read as the console reads it."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        found = []
        while len(found) < count:
            assert response.readline() == b"--frame\r\n"
            headers = dict(line.decode().strip().split(": ", 1) for line in iter(response.readline, b"\r\n"))
            found.append(response.read(int(headers["Content-Length"])))
            assert response.readline() == b"\r\n"
        return found


def test_the_live_view_is_served_to_the_consoles_token_only(walkers, tmp_path):
    frames = jpegs(walkers, SECONDS)
    port = free_port()
    settings = settings_for(tmp_path, WATCH_STREAM_PORT=str(port), CONSOLE_TOKEN=CONSOLE_TOKEN)
    url = f"http://127.0.0.1:{port}/stream.mjpg"
    seen: dict[str, object] = {}
    stop = threading.Event()

    def look() -> None:
        try:
            deadline = time.monotonic() + 60
            while "without_token" not in seen and time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(url, timeout=5)
                except urllib.error.HTTPError as error:
                    seen["without_token"] = error.code
                except OSError:
                    time.sleep(0.1)  # not listening yet
            seen["blurred"] = live_frames(url, CONSOLE_TOKEN, 4)
            seen["shown"] = live_frames(url + "?faces=shown", CONSOLE_TOKEN, 4)
        finally:
            stop.set()

    with MjpegCamera(frames, fps=10) as camera:
        reader = threading.Thread(target=look, daemon=True)
        reader.start()
        watch(camera.url, "door", settings, stop)
        reader.join(10)
    assert seen["without_token"] == 401
    for kind in ("blurred", "shown"):
        assert [Image.open(io.BytesIO(jpeg)).size for jpeg in seen[kind]] == [(960, 540)] * 4  # type: ignore[attr-defined]


def test_faces_are_blurred_in_the_live_view_unless_shown(walkers):
    """Inside a face's box a blurred view keeps no detail (eyes, mouth, mask edges); outside the
    boxes both views are the same picture."""
    pixels = frame_at(walkers, 8.0, background())
    found = FaceDetector(side=640).search(pixels)
    assert len(found) == 2
    judged = Judged(pixels, tuple(Seen(face, number, "with_mask", False) for number, face in enumerate(found, 1)))
    blurred, shown = (
        np.asarray(Image.open(io.BytesIO(live.draw(judged, faces_shown))).convert("L"), dtype=np.float32)
        for faces_shown in (False, True)
    )
    scale = 960 / pixels.shape[1]
    for face in found:
        inner = face.scaled(scale)
        x0, y0 = inner.x + inner.width // 4, inner.y + inner.height // 4
        x1, y1 = inner.x + 3 * inner.width // 4, inner.y + 3 * inner.height // 4
        assert detail(blurred[y0:y1, x0:x1]) < detail(shown[y0:y1, x0:x1]) / 4
    assert np.abs(blurred[-40:] - shown[-40:]).mean() < 1  # the bottom rows hold no face


def detail(region: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels: fine detail, which blurring removes."""
    return float(np.abs(np.diff(region, axis=0)).mean() + np.abs(np.diff(region, axis=1)).mean())


def test_a_database_outage_loses_no_count(clip, tmp_path, monkeypatch, caplog):
    real = cameras.add_counts
    failures = iter([True, True])

    def flaky(database, camera, counts) -> None:
        if counts and next(failures, False):  # people counted and waiting: those must not be lost
            raise OperationalError("INSERT", {}, Exception("the server restarts"))
        real(database, camera, counts)

    monkeypatch.setattr(cameras, "add_counts", flaky)
    monkeypatch.setattr(camera_run, "FLUSH_EVERY", 0.2)
    settings = settings_for(tmp_path)
    with caplog.at_level(logging.WARNING):
        outcome = watch(str(clip), "door", settings)
    assert [record.getMessage().split()[0] for record in caplog.records] == ["event=database_error"]
    assert next(failures, None) is None  # both failures were met
    assert counted(settings.bot.database_url) == outcome.counted == {"with_mask": 2, "without_mask": 2}


def test_a_live_view_port_in_use_is_one_line(clip, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(tmp_path, WATCH_STREAM_PORT=str(port), CONSOLE_TOKEN=CONSOLE_TOKEN)
        with pytest.raises(
            LiveViewError, match=f"^cannot serve the live view on 127.0.0.1:{port}: Address already in use$"
        ):
            watch(str(clip), "door", settings)


def test_an_alert_that_cannot_be_sent_does_not_hold_the_watch(clip, tmp_path, caplog):
    env = {
        "BOT_TOKEN": TOKEN,
        "ADMIN_IDS": "501",
        "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{free_port()}/bot",  # nobody listens
        "WATCH_ALERT_MINUTES": "60",
        "WATCH_ALERT_MIN_PEOPLE": "3",
    }
    with caplog.at_level(logging.WARNING):
        outcome = watch(str(clip), "door", settings_for(tmp_path, **env))
    assert outcome.counted == {"with_mask": 2, "without_mask": 2}
    assert "event=camera_alert_failed error=NetworkError" in caplog.text
