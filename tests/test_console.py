"""The operator console's routes over real HTTP: every page and action, and every refusal."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import create_signed_value

from bot import web
from bot.config import ConfigError
from cli import main as cli
from console.app import Console, make_app, make_server
from console.auth import SESSION_COOKIE, cookie_secret, load_token
from console.views import cameras as camera_views
from model import CLASS_NAMES
from model.registry import Registry
from storage.cameras import add_counts, announce
from storage.database import Database
from storage.repository import Repository, utc_now
from storage.stats import recent_stats
from tests.support.console_data import GATE_REASON, TOKEN, Feedback, face_crops, registry_with_challenger, seed
from tests.support.fake_watcher import BLURRED, SHOWN, FakeWatcher, frames_of
from tests.support.models import cut_short


@dataclass
class World:
    repository: Repository
    registry: Registry
    feedback: Feedback

    def status(self, feedback_id: int) -> str:
        return next(item.review_status for item in self.repository.feedback_items() if item.feedback_id == feedback_id)


@pytest.fixture
def world(tmp_path, shared_data):
    database = Database(f"sqlite:///{tmp_path / 'maskbot.db'}")
    repository = Repository(database)
    registry = registry_with_challenger(tmp_path / "models")
    reference = json.loads((registry.champion_dir() / "metadata.json").read_text())["class_mix"]
    yield World(repository, registry, seed(repository, face_crops(shared_data), reference))
    database.dispose()


@pytest.fixture
async def client(world):
    console = Console(world.repository, world.registry.root, TOKEN)
    server = make_server(console)
    socket, port = bind_unused_port()
    server.add_sockets([socket])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as http:
        yield http
    server.stop()
    console.executor.shutdown()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def xsrf(client: httpx.AsyncClient) -> str:
    """The XSRF token a form would carry: the login page sets its cookie."""
    await client.get("/login")
    return client.cookies["_xsrf"]


async def log_in(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/login", data={"token": TOKEN, "_xsrf": await xsrf(client), "next": "/review"})


def listed_ids(html: str) -> list[int]:
    return [int(value) for value in re.findall(r'name="id" value="(\d+)"', html)]


async def test_pages_redirect_to_the_login_page_and_the_rest_answers_401_without_the_token(client, world):
    page = await client.get("/review?status=pending")
    assert page.status_code == 302
    assert urlsplit(page.headers["Location"]).path == "/login"
    assert parse_qs(urlsplit(page.headers["Location"]).query) == {"next": ["/review?status=pending"]}
    for path in ("/drift", "/models", "/models/promote?version=v3", "/models/rollback", "/"):
        assert (await client.get(path)).status_code == 302, path
    health = await client.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok")
    crop = await client.get(f"/crops/{world.feedback.corrections[0]}.png")
    assert crop.status_code == 401
    assert crop.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/drift/chart.png")).status_code == 401
    token = await xsrf(client)
    decided = await client.post("/review", data={"_xsrf": token, "action": "accept", "id": world.feedback.corrections})
    assert decided.status_code == 401
    promoted = await client.post("/models/promote", data={"_xsrf": token, "version": "v3"})
    assert promoted.status_code == 401
    assert world.status(world.feedback.corrections[0]) == "pending"
    assert world.registry.champion() == "v2"


async def test_a_wrong_token_is_refused_as_a_bearer_and_at_the_login_form(client, world):
    wrong = {"Authorization": "Bearer " + "x" * len(TOKEN)}
    assert (await client.get("/review", headers=wrong)).status_code == 401
    assert (await client.get(f"/crops/{world.feedback.corrections[0]}.png", headers=wrong)).status_code == 401
    basic = {"Authorization": f"Basic {TOKEN}"}  # not a way in: only the bearer scheme carries the token
    assert (await client.get("/review", headers=basic)).status_code == 302
    refused = await client.post("/login", data={"token": TOKEN[:-1], "_xsrf": await xsrf(client)})
    assert refused.status_code == 401
    assert "That is not the console&#x27;s token." in refused.text
    assert SESSION_COOKIE not in refused.cookies
    assert (await client.get("/review")).status_code == 302


async def test_logging_in_gives_an_httponly_samesite_expiring_cookie_and_the_pages(client, world):
    answer = await log_in(client)
    assert answer.status_code == 303 and answer.headers["Location"] == "/review"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie
    review = await client.get("/review")
    assert review.status_code == 200
    assert review.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert listed_ids(review.text) == [
        *world.feedback.corrections,
        world.feedback.confirmation,
        world.feedback.forgotten,
    ]
    crop = await client.get(f"/crops/{world.feedback.corrections[0]}.png")
    assert crop.status_code == 200 and crop.headers["Content-Type"] == "image/png"
    assert crop.content.startswith(b"\x89PNG") and "no-store" in crop.headers["Cache-Control"]
    for path in ("/drift", "/models", "/models/promote?version=v3", "/models/rollback"):
        assert (await client.get(path)).status_code == 200, path
    chart = await client.get("/drift/chart.png?days=14")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    assert (await client.get("/")).headers["Location"] == "/review"


async def test_the_login_page_sends_only_to_pages_of_this_site(client):
    for target in ("https://evil.example/", "//evil.example/review", "/\\evil.example"):
        answer = await client.post("/login", data={"token": TOKEN, "_xsrf": await xsrf(client), "next": target})
        assert answer.headers["Location"] == "/", target


async def test_an_expired_or_forged_session_is_sent_to_the_login_page(client):
    secret = cookie_secret(TOKEN)
    client.cookies.set(SESSION_COOKIE, create_signed_value(secret, SESSION_COOKIE, str(time.time() - 1)).decode())
    assert (await client.get("/review")).status_code == 302
    client.cookies.set(SESSION_COOKIE, create_signed_value("another", SESSION_COOKIE, str(time.time() + 60)).decode())
    assert (await client.get("/review")).status_code == 302
    client.cookies.set(SESSION_COOKIE, "not a signed value")
    assert (await client.get("/review")).status_code == 302
    client.cookies.set(SESSION_COOKIE, create_signed_value(secret, SESSION_COOKIE, str(time.time() + 60)).decode())
    assert (await client.get("/review")).status_code == 200


async def test_logging_out_ends_the_session(client):
    await log_in(client)
    answer = await client.post("/logout", data={"_xsrf": client.cookies["_xsrf"]})
    assert answer.status_code == 303
    assert (await client.get("/review")).status_code == 302


async def test_forms_without_the_xsrf_token_change_nothing(client, world):
    await log_in(client)
    ids = world.feedback.corrections
    assert (await client.post("/review", data={"action": "accept", "id": ids})).status_code == 403
    forged = {"action": "accept", "id": ids, "_xsrf": "2|00000000|" + "0" * 32 + "|1"}
    assert (await client.post("/review", data=forged)).status_code == 403
    assert (await client.post("/models/promote", data={"version": "v3"})).status_code == 403
    assert (await client.post("/models/rollback", data={})).status_code == 403
    assert [world.status(i) for i in ids] == ["pending"] * 3
    assert world.registry.champion() == "v2"


async def test_accepting_many_and_rejecting_one_reviews_them_as_the_command_line_does(client, world):
    await log_in(client)
    first, second, third = world.feedback.corrections
    form = {"_xsrf": client.cookies["_xsrf"], "action": "accept", "id": [first, second]}
    answer = await client.post("/review?status=pending", data=form)
    assert answer.status_code == 303
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["done"] == ["accepted"]
    rejected = await client.post("/review", data={"_xsrf": client.cookies["_xsrf"], "item": f"reject:{third}"})
    assert rejected.status_code == 303
    assert [world.status(i) for i in (first, second, third)] == ["accepted", "accepted", "rejected"]
    page = await client.get(rejected.headers["Location"])
    assert "1 marked rejected." in page.text
    assert third not in listed_ids(page.text) and first not in listed_ids(page.text)
    accepted = await client.get("/review?status=accepted")
    assert listed_ids(accepted.text) == [first, second]
    undone = await client.post(
        "/review?status=accepted", data={"_xsrf": client.cookies["_xsrf"], "item": f"pending:{second}"}
    )
    assert undone.status_code == 303 and world.status(second) == "pending"


async def test_scripts_review_with_the_bearer_token_and_get_json(client, world):
    first = world.feedback.corrections[0]
    answer = await client.post("/review", headers=BEARER, data={"action": "reject", "id": [first, 999999]})
    assert answer.status_code == 200
    assert answer.json() == {"status": "rejected", "changed": 1, "missing": 1}
    assert world.status(first) == "rejected"
    bad = await client.post("/review", headers=BEARER, data={"action": "delete", "id": [first]})
    assert bad.status_code == 400 and "accept, reject or pending" in bad.json()["error"]
    assert (
        await client.post("/review", headers=BEARER, data={"action": "accept", "id": ["1; drop"]})
    ).status_code == 400


async def test_no_crop_of_a_forgotten_user_can_appear(client, world):
    await log_in(client)
    forgotten = world.feedback.forgotten
    assert (await client.get(f"/crops/{forgotten}.png")).status_code == 200
    world.repository.forget_user(world.feedback.forgotten_user)
    assert (await client.get(f"/crops/{forgotten}.png")).status_code == 404
    assert forgotten not in listed_ids((await client.get("/review")).text)
    answer = await client.post("/review", data={"_xsrf": client.cookies["_xsrf"], "item": f"accept:{forgotten}"})
    page = await client.get(answer.headers["Location"])
    assert "0 marked accepted. 1 no longer exist" in page.text
    assert (await client.get("/crops/123456789.png")).status_code == 404


async def test_the_heat_map_of_a_shared_crop_shows_where_the_champion_looks(client, world):
    correction = world.feedback.corrections[0]
    path = f"/crops/{correction}/heat.jpg"
    assert (await client.get(path)).status_code == 401
    await log_in(client)
    page = await client.get("/review")
    assert f'src="/crops/{correction}/heat.jpg?label=with_mask"' in page.text  # the heat of what the bot said
    answer = await client.get(path)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Cache-Control"] == "private, no-store" and len(answer.content) < 100_000
    assert answer.headers["X-Heat-Map-Label"] in CLASS_NAMES  # the champion's own verdict on the crop
    with Image.open(io.BytesIO(answer.content)) as picture:
        assert picture.format == "JPEG" and picture.size == (384, 384)
    chosen = await client.get(f"{path}?label=without_mask", headers=BEARER)
    assert chosen.status_code == 200 and chosen.headers["X-Heat-Map-Label"] == "without_mask"
    assert (await client.get(f"{path}?label=cat")).status_code == 400
    assert (await client.get("/crops/123456789/heat.jpg")).status_code == 404
    world.repository.forget_user(world.feedback.forgotten_user)
    assert (await client.get(f"/crops/{world.feedback.forgotten}/heat.jpg")).status_code == 404


async def test_a_champion_exported_without_class_maps_draws_no_heat_map_and_says_why(client, world):
    import onnx

    served = world.registry.champion_dir() / "model.onnx"
    exported = onnx.load(str(served))
    del exported.graph.output[1:]  # as model.onnx files were exported before the maps
    onnx.save(exported, str(served))
    answer = await client.get(f"/crops/{world.feedback.corrections[0]}/heat.jpg", headers=BEARER)
    assert answer.status_code == 409 and "exported without class maps" in answer.json()["error"]
    served.unlink()
    answer = await client.get(f"/crops/{world.feedback.corrections[0]}/heat.jpg", headers=BEARER)
    assert answer.status_code == 409 and "has no model.onnx" in answer.json()["error"]


async def test_review_filters_by_the_users_label_and_the_model(client, world):
    await log_in(client)
    first, second, third = world.feedback.corrections
    incorrect = await client.get("/review?label=mask_weared_incorrect")
    assert listed_ids(incorrect.text) == [first, world.feedback.forgotten]
    by_v1 = await client.get("/review?model=v1")
    assert listed_ids(by_v1.text) == [third]
    # A "right" answer counts under the label the bot gave.
    with_mask = await client.get("/review?label=with_mask&model=v2")
    assert listed_ids(with_mask.text) == [second, world.feedback.confirmation]
    assert (await client.get("/review?label=cat")).status_code == 400
    assert (await client.get("/review?status=deleted")).status_code == 400
    assert (await client.get("/review?page=0")).status_code == 400
    assert (await client.get("/review?page=²")).status_code == 400


async def test_the_drift_page_shows_the_numbers_of_stats(client, world):
    await log_in(client)
    page = unescape((await client.get("/drift?days=14")).text)
    stats = recent_stats(world.repository.database, 14)
    assert f"Photos checked: {stats.photos}, faces judged: {stats.count}" in page
    assert stats.count == 12 * 60 + 80 + 5  # today and the 13 days before
    levels = {row.day: row.drift_level for row in stats.per_day}
    assert "drift" in levels.values()
    for row in stats.per_day:
        cells = re.search(rf"<td>{row.day.isoformat()}</td>(.*?)</tr>", page, re.S).group(1)
        assert f'<td class="n">{row.count}</td>' in cells
        assert f'class="level {row.drift_level}"' in cells
        mix = " / ".join(
            f"{row.reference_mix[name]:.0%}" for name in ("with_mask", "without_mask", "mask_weared_incorrect")
        )
        assert f"({mix})" in cells
    assert "<h2>Cameras</h2>" not in page  # no camera counted yet
    assert (await client.get("/drift?days=0")).status_code == 400


async def test_the_drift_page_shows_cameras_beside_the_chats(client, world):
    await log_in(client)
    add_counts(world.repository.database, "door", {utc_now() - timedelta(hours=3): {"with_mask": 3, "without_mask": 1}})
    page = unescape((await client.get("/drift?days=7")).text)
    row = re.search(r'<a href="/cameras/door">door</a></th>(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="n">([^<]*)</td>', row) == ["4", "75%", "25%", "0%"]
    assert (await client.get("/drift?days=366")).status_code == 400


async def test_the_models_page_shows_scores_gates_and_history(client, world):
    await log_in(client)
    page = unescape((await client.get("/models")).text)
    for name in ("v1", "v2", "v3"):
        assert f'<th scope="row">{name}</th>' in page
    assert '<span class="status champion">champion</span>' in page
    assert '<span class="status rejected">rejected</span>' in page
    assert GATE_REASON in page
    assert "shipped model v2, the newest" in page
    assert "Roll back to v1" in page


async def test_promoting_shows_the_gates_reasons_first_and_changes_the_champion_only_on_post(client, world):
    await log_in(client)
    confirm = unescape((await client.get("/models/promote?version=v3")).text)
    assert "Make v3 the champion?" in confirm and "gate failed" in confirm and GATE_REASON in confirm
    assert world.registry.champion() == "v2"
    answer = await client.post(
        "/models/promote", data={"_xsrf": client.cookies["_xsrf"], "version": "v3", "reason": "real3 looks better"}
    )
    assert answer.status_code == 303
    assert world.registry.champion() == "v3"
    entry = world.registry.history()[-1]
    assert entry["action"] == "promote" and entry["version"] == "v3" and entry["previous"] == "v2"
    assert entry["reason"] == "promoted in the console: real3 looks better" and entry["forced"] is True
    assert answer.headers["Location"] == "/models?changed=1"
    assert "v3 is the champion now (was v2)" in unescape((await client.get(answer.headers["Location"])).text)
    again = await client.post("/models/promote", data={"_xsrf": client.cookies["_xsrf"], "version": "v3"})
    assert again.status_code == 409
    assert (await client.get("/models/promote?version=v9")).status_code == 404
    assert (await client.get("/models/promote?version=../v1")).status_code == 404


async def test_rolling_back_asks_first_then_returns_to_the_previous_champion(client, world):
    confirm = unescape((await client.get("/models/rollback", headers=BEARER)).text)
    assert "Roll back from v2 to v1?" in confirm
    answer = await client.post("/models/rollback", headers=BEARER, data={"reason": "v2 misses incorrect masks"})
    assert answer.status_code == 200 and answer.json() == {"champion": "v1", "previous": "v2"}
    assert world.registry.champion() == "v1"
    assert world.registry.history()[-1]["reason"] == "rolled back in the console: v2 misses incorrect masks"
    # The champion before v1 is now v2: a second rollback undoes the first.
    assert "Roll back from v1 to v2?" in (await client.get("/models/rollback", headers=BEARER)).text


async def test_a_single_model_folder_is_named_on_the_models_page(tmp_path, world):
    (tmp_path / "single").mkdir()
    (tmp_path / "single" / "metadata.json").write_text("{}")
    console = Console(world.repository, tmp_path / "single", TOKEN)
    server = HTTPServer(make_app(console))
    socket, port = bind_unused_port()
    server.add_sockets([socket])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=BEARER) as http:
        page = await http.get("/models")
        assert page.status_code == 200 and "is a single model folder, not a registry" in page.text
        assert (await http.post("/models/rollback")).status_code == 409
    server.stop()


async def test_a_confirmation_made_stale_by_another_change_is_refused(client, world):
    await log_in(client)
    confirm = (await client.get("/models/rollback")).text
    assert 'name="champion" value="v2"' in confirm  # the page was about rolling v2 back to v1
    world.registry.promote("v3", "someone else, meanwhile", forced=True)
    stale = {"_xsrf": client.cookies["_xsrf"], "champion": "v2", "reason": "v2 is bad"}
    answer = await client.post("/models/rollback", data=stale)
    assert answer.status_code == 409 and "the champion is v3 now, not v2" in unescape(answer.text)
    promote = await client.post("/models/promote", data={**stale, "version": "v1"})
    assert promote.status_code == 409
    assert world.registry.champion() == "v3"


async def test_a_model_that_cannot_load_is_refused_with_the_reason_and_the_champion_stays(client, world):
    await log_in(client)
    history = world.registry.history()
    cut_short(world.registry.root / "v3")
    form = {"_xsrf": client.cookies["_xsrf"], "version": "v3", "champion": "v2", "reason": "looks better"}
    answer = await client.post("/models/promote", data=form)
    assert answer.status_code == 409 and "v3 does not load" in unescape(answer.text)
    cut_short(world.registry.root / "v1")
    rollback = await client.post("/models/rollback", headers=BEARER, data={"champion": "v2"})
    assert rollback.status_code == 409 and "v1 does not load" in rollback.json()["error"]
    assert world.registry.champion() == "v2" and world.registry.history() == history


async def test_promoting_into_a_registry_without_a_champion(client, world):
    (world.registry.root / "champion").unlink()
    confirm = await client.get("/models/promote?version=v2", headers=BEARER)
    assert confirm.status_code == 200 and "The registry has no champion" in confirm.text
    answer = await client.post("/models/promote", headers=BEARER, data={"version": "v2", "champion": ""})
    assert answer.json() == {"champion": "v2", "previous": None}


async def test_the_models_page_tells_only_the_change_that_made_the_champion(client, world):
    await log_in(client)
    (world.registry.root / "v4").mkdir()
    (world.registry.root / "v4" / "metadata.json").write_text("{}")
    world.registry.seed([world.registry.root / "v4"])  # the newest history line is now an import
    page = (await client.get("/models?changed=1")).text
    assert 'class="note"' not in page


async def test_other_authorization_schemes_go_the_browsers_way(client):
    basic = {"Authorization": "Basic Zm9vOmJhcg=="}
    assert (await client.get("/review", headers=basic)).status_code == 302
    await log_in(client)
    assert (await client.get("/review", headers=basic)).status_code == 200
    assert (await client.post("/logout", headers=basic)).status_code == 403  # no XSRF token


async def test_unknown_paths_and_header_breaking_targets(client):
    missing = await client.get("/admin")
    assert missing.status_code == 404 and "default-src 'none'" in missing.headers["Content-Security-Policy"]
    answer = await client.post(
        "/login", data={"token": TOKEN, "_xsrf": await xsrf(client), "next": "/review\r\nSet-Cookie: a=b"}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


async def test_a_page_past_the_last_goes_to_the_last(client, world):
    await log_in(client)
    answer = await client.get("/review?page=3")
    assert answer.status_code == 302 and answer.headers["Location"] == "/review?status=pending&page=1"


async def test_a_champion_pointer_naming_no_version_is_reported_not_a_crash(client, world):
    (world.registry.root / "champion").write_text("v9\n")
    page = await client.get("/models", headers=BEARER)
    assert page.status_code == 200 and "names &#x27;v9&#x27;, which is no version" in page.text
    assert (await client.get("/models/promote?version=v3", headers=BEARER)).status_code == 409
    assert (await client.post("/models/promote", headers=BEARER, data={"version": "v3"})).status_code == 409
    assert (await client.post("/models/rollback", headers=BEARER)).status_code == 409


def test_the_console_refuses_to_start_without_a_long_token(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    for token in ("", "short-token"):
        monkeypatch.setenv("CONSOLE_TOKEN", token)
        assert cli(["console", "--port", "0"]) == 2
        assert "CONSOLE_TOKEN must be set, at least 32 characters" in capsys.readouterr().err


async def raw(port: int, head: bytes, wait: float = 5) -> bytes:
    """The start of what the server answers to `head`, sent as is; b"" when it hangs up without a word."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), wait)
    finally:
        writer.close()


async def test_a_big_body_is_refused_from_its_headers_on_every_route(client):
    port = client.base_url.port
    for path in ("/login", "/review", "/healthz", "/models/promote", "/nowhere"):
        # 20 MB announced and none of it sent: the answer comes from the headers alone.
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {20 * 1024 * 1024}\r\n\r\n"
        answer = await raw(port, head.encode())
        assert answer.startswith(b"HTTP/1.1 413 "), (path, answer[:80])
        assert b"Content-Security-Policy: default-src 'none'" in answer, path
    assert (await log_in(client)).status_code == 303  # forms of ordinary size are read as before


async def test_half_sent_requests_are_closed(world, monkeypatch):
    monkeypatch.setattr(web, "IDLE_SECONDS", 0.5)
    monkeypatch.setattr(web, "BODY_SECONDS", 0.5)
    console = Console(world.repository, world.registry.root, TOKEN)
    server = make_server(console)
    socket, port = bind_unused_port()
    server.add_sockets([socket])
    try:
        # Each is hung up on by its 0.5 s deadline: raw() fails on a server still silent at 4 times it.
        deadline = 4 * web.IDLE_SECONDS
        assert await raw(port, b"GET /login HTTP/1.1\r\nHost: x\r\n", deadline) == b""  # headers that never end
        body = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\ntoken="
        assert await raw(port, body, deadline) == b""  # a body that never ends
    finally:
        server.stop()
        console.executor.shutdown()


async def test_wrong_tokens_are_throttled_per_address(client):
    form = {"token": "x" * 40, "_xsrf": await xsrf(client)}
    answers = [await client.post("/login", data=form) for _ in range(30)]
    assert [answer.status_code for answer in answers] == [401] * 5 + [429] * 25
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 10
    assert "try again in" in answers[-1].text
    # From a throttled address even the right token is not checked: the answer tells a guesser nothing.
    assert (await client.post("/login", data={**form, "token": TOKEN})).status_code == 429
    refused = await client.get("/review", headers=BEARER)
    assert refused.status_code == 429 and refused.headers["Retry-After"] and "try again" in refused.json()["error"]


async def test_wrong_bearer_tokens_count_as_wrong_logins(client):
    wrong = {"Authorization": "Bearer " + "y" * 40}
    statuses = [(await client.get("/review", headers=wrong)).status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3


def test_the_throttle_is_per_address_refills_and_keeps_a_bounded_table():
    from console.auth import Throttle

    now = [0.0]
    throttle = Throttle(burst=3, interval=10.0, size=100, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == pytest.approx(10.0)
    assert throttle.wait("10.0.0.2") == 0  # another address is not held up
    now[0] = 4.0
    assert throttle.wait("10.0.0.1") == pytest.approx(6.0)
    now[0] = 10.0
    assert throttle.wait("10.0.0.1") == 0  # one more try after the interval
    throttle.failed("10.0.0.1")
    assert throttle.wait("10.0.0.1") == pytest.approx(10.0)
    for address in range(10_000):  # a flood of addresses
        throttle.failed(f"fd00::{address:x}")
    assert len(throttle) == 100


@pytest.mark.parametrize("token", ["a" * 32, "ab" * 20, "abcd" * 10, "password" * 5])
def test_a_console_token_anyone_could_guess_is_refused(token):
    with pytest.raises(ConfigError, match=r"^CONSOLE_TOKEN .*secrets.token_urlsafe"):
        load_token({"CONSOLE_TOKEN": token})


def test_tokens_made_as_the_readme_says_are_accepted():
    for _ in range(200):
        generated = secrets.token_urlsafe(32)
        assert load_token({"CONSOLE_TOKEN": generated}) == generated
    assert load_token({"CONSOLE_TOKEN": TOKEN}) == TOKEN


@pytest.fixture
async def watcher():
    running = FakeWatcher(TOKEN)
    await running.start()
    yield running
    await running.stop()


def cameras_seen(world: World, watcher_url: str | None) -> datetime:
    """Three cameras: "door" live with its live view at `watcher_url`, "yard" live without one, and
    "gate" last heard from ten minutes ago. "door" counted ten people in the last hour."""
    database = world.repository.database
    now = datetime.now(UTC)
    announce(database, "door", watcher_url, now - timedelta(seconds=20))
    announce(database, "yard", None, now - timedelta(seconds=50))
    announce(database, "gate", "http://127.0.0.1:9", now - timedelta(minutes=10))
    add_counts(
        database,
        "door",
        {
            now - timedelta(minutes=2): {"with_mask": 4, "without_mask": 2},
            now - timedelta(minutes=40): {"with_mask": 2, "without_mask": 1, "mask_weared_incorrect": 1},
            now - timedelta(hours=2): {"without_mask": 50},
        },
    )
    return now


async def live_view(client: httpx.AsyncClient, path: str, frames: int, **options) -> tuple[httpx.Response, list[bytes]]:
    """The answer to `path` and its first `frames` JPEGs (fewer if the stream ends first); the
    connection is closed then, as a browser closes it when the page is left."""

    async def read() -> tuple[httpx.Response, list[bytes]]:
        async with client.stream("GET", path, **options) as answer:
            received = b""
            async for chunk in answer.aiter_raw():
                received += chunk
                if len(frames_of(received)) >= frames:
                    break
        return answer, frames_of(received)[:frames]

    return await asyncio.wait_for(read(), 10)


async def eventually(condition, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_camera_pages_need_the_token_and_ask_the_watcher_nothing_without_it(client, world, watcher):
    cameras_seen(world, watcher.url)
    for path in ("/cameras", "/cameras/door"):
        assert (await client.get(path)).status_code == 302, path
    for path in ("/cameras/door/chart.png", "/cameras/door/live.mjpg"):
        answer = await client.get(path)
        assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer"), path
    assert watcher.seen == []


async def test_the_cameras_page_shows_each_cameras_state_and_its_last_hour(client, world, watcher):
    cameras_seen(world, watcher.url)
    await log_in(client)
    page = unescape((await client.get("/cameras")).text)
    assert '<a href="/cameras" aria-current="page">Cameras</a>' in page
    rows = {
        name: re.search(rf'<a href="/cameras/{name}">{name}</a></th>(.*?)</tr>', page, re.S).group(1)
        for name in ("door", "yard", "gate")
    }
    # The last hour: 6 + 4 people, 3 of them without a mask, 1 wearing it wrong; not the 50 of two hours ago.
    assert re.findall(r'<td class="n">([^<]*)</td>', rows["door"]) == ["10", "30%", "10%"]
    assert "live" in rows["door"] and "<td>yes</td>" in rows["door"]
    assert "live" in rows["yard"] and "<td>none</td>" in rows["yard"]
    assert re.findall(r'<td class="n">([^<]*)</td>', rows["yard"]) == ["0", "-", "-"]
    assert "not seen for 10 min" in rows["gate"]


async def test_a_cameras_page_shows_its_blurred_live_view_its_chart_and_its_minutes(client, world, watcher):
    now = cameras_seen(world, watcher.url)
    await log_in(client)
    page = unescape((await client.get("/cameras/door")).text)
    assert 'src="/cameras/door/live.mjpg"' in page
    assert "Faces are blurred." in page and '<a class="button" href="/cameras/door?faces=shown">Show faces</a>' in page
    assert "Showing faces is the operator's choice" in page
    assert 'src="/cameras/door/chart.png" data-refresh="20"' in page
    minutes_shown = re.findall(r'<tr><td>(\d\d:\d\d)</td><td class="n">(\d+)</td>', page)
    assert minutes_shown == [(f"{now - timedelta(minutes=2):%H:%M}", "6")]  # the 40 minutes ago is past the chart
    shown = unescape((await client.get("/cameras/door?faces=shown")).text)
    assert 'src="/cameras/door/live.mjpg?faces=shown"' in shown
    assert "Faces are shown." in shown and '<a class="button" href="/cameras/door">Blur faces</a>' in shown
    assert (await client.get("/cameras/door?faces=all")).status_code == 400
    assert watcher.seen == []  # a page is drawn without asking the watcher


async def test_a_camera_without_a_live_view_or_not_heard_from_says_so(client, world):
    cameras_seen(world, None)
    await log_in(client)
    yard = unescape((await client.get("/cameras/yard")).text)
    assert "This watcher serves no live view" in yard and "live.mjpg" not in yard
    assert "Nobody counted in the last 30 minutes." in yard
    gate = unescape((await client.get("/cameras/gate")).text)
    assert "has not been heard from for 10 min, so its live view cannot be reached" in gate
    assert "live.mjpg" not in gate
    answer = await client.get("/cameras/yard/live.mjpg")
    assert answer.status_code == 404 and "serves no live view" in answer.text


async def test_unknown_camera_names_are_not_found(client, world):
    cameras_seen(world, None)
    for name in ("porch", "x" * 65, "door%2F..", "%00"):
        for path in (f"/cameras/{name}", f"/cameras/{name}/chart.png", f"/cameras/{name}/live.mjpg"):
            assert (await client.get(path, headers=BEARER)).status_code == 404, path


async def test_a_cameras_chart_draws_its_last_half_hour_in_the_bots_colours(client, world):
    cameras_seen(world, None)
    answer = await client.get("/cameras/door/chart.png", headers=BEARER)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(answer.content)) as chart:
        assert chart.size == (720, 260)
        colours = {colour for _, colour in chart.convert("RGB").getcolors(1 << 16)}
    assert {(46, 125, 50), (198, 40, 40)} <= colours  # bot.charts' "Mask on" and "No mask"
    assert (249, 168, 37) not in colours  # its "Mask worn incorrectly": counted only 40 minutes ago


async def test_the_live_view_is_relayed_with_the_token_blurred_unless_faces_are_asked_for(client, world, watcher):
    cameras_seen(world, watcher.url)
    await log_in(client)
    answer, frames = await live_view(client, "/cameras/door/live.mjpg", 3)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Cache-Control"] == "no-store"
    assert frames == [BLURRED] * 3
    answer, frames = await live_view(client, "/cameras/door/live.mjpg?faces=shown", 2)
    assert frames == [SHOWN] * 2
    assert [(seen.path, seen.query, seen.authorization) for seen in watcher.seen] == [
        ("/stream.mjpg", {}, f"Bearer {TOKEN}"),
        ("/stream.mjpg", {"faces": ["shown"]}, f"Bearer {TOKEN}"),
    ]
    # The browser left: the console hung up on the watcher too.
    assert await eventually(lambda: watcher.open_streams == 0)


async def test_a_watcher_that_ends_its_stream_ends_the_view(client, world, watcher):
    cameras_seen(world, watcher.url)
    watcher.frames = 2
    answer, frames = await live_view(client, "/cameras/door/live.mjpg", 5, headers=BEARER)
    assert answer.status_code == 200 and frames == [BLURRED] * 2


async def test_a_silent_watcher_is_hung_up_on_when_the_browser_leaves_or_after_a_while(
    client, world, watcher, monkeypatch
):
    cameras_seen(world, watcher.url)
    watcher.silent = True
    async with client.stream("GET", "/cameras/door/live.mjpg", headers=BEARER) as answer:
        assert answer.status_code == 200
    # Long before QUIET_SECONDS: the browser's leaving is noticed, not a frame that fails to go out.
    assert await eventually(lambda: watcher.open_streams == 0, seconds=camera_views.QUIET_SECONDS / 4)
    monkeypatch.setattr(camera_views, "QUIET_SECONDS", 0.3)
    started = time.monotonic()
    answer, frames = await live_view(client, "/cameras/door/live.mjpg", 1, headers=BEARER)
    assert answer.status_code == 200 and frames == [] and time.monotonic() - started < 3
    assert await eventually(lambda: watcher.open_streams == 0)


async def test_a_watcher_that_is_down_gives_503_and_one_refusing_the_token_502(client, world, watcher, caplog):
    cameras_seen(world, watcher.url)
    await watcher.stop()
    down = await client.get("/cameras/door/live.mjpg", headers=BEARER)
    assert down.status_code == 503 and down.json()["error"] == "Camera watcher unreachable"
    assert f"camera=door reason=cannot reach {watcher.url[7:]}: [Errno 111] Connection refused" in caplog.text
    other = FakeWatcher("another-watchers-token-0123456789abcdef")
    await other.start()
    cameras_seen(world, other.url)
    refused = await client.get("/cameras/door/live.mjpg", headers=BEARER)
    assert refused.status_code == 502 and refused.json()["error"] == "Camera watcher sent no stream"
    assert "it answered 'HTTP/1.0 401 Unauthorized' (not the console's CONSOLE_TOKEN?)" in caplog.text
    await other.stop()


async def test_a_camera_has_at_most_a_few_live_viewers(client, world, watcher):
    cameras_seen(world, watcher.url)
    path = "/cameras/door/live.mjpg"
    async with contextlib.AsyncExitStack() as viewers:
        for _ in range(camera_views.MAX_VIEWERS):
            answer = await viewers.enter_async_context(client.stream("GET", path, headers=BEARER))
            assert answer.status_code == 200
        one_more = await client.get(path, headers=BEARER)
        assert one_more.status_code == 503 and one_more.json()["error"] == "Too many live views of this camera"
    assert await eventually(lambda: watcher.open_streams == 0)
    answer, frames = await live_view(client, path, 1, headers=BEARER)
    assert frames == [BLURRED]
