"""A small Bot API server of the tests' own, on 127.0.0.1, speaking real HTTP.

It answers the methods the bot calls with well-formed Bot API objects, serves files for
`getFile` downloads, holds `getUpdates` long polls until an update is queued, and records
every request (method and decoded form fields) so tests can assert on exactly what was sent.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlparse

BOT_ID = 7000001
TOKEN = f"{BOT_ID}:AAFakeTokenForTestsOnly_abcdefghijk"


@dataclass
class Request:
    method: str
    params: dict
    at: float


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.requests: list[Request] = []
        self.files: dict[str, bytes] = {}
        self.messages: dict[tuple[int, int], dict] = {}
        """Every message in the chats, users' and the bot's, by (chat id, message id): what a
        reply's `reply_to_message` shows. A message deleted from here is shown no longer."""
        self.languages: dict[int, str] = {}
        """Telegram clients' `language_code` by user id; a user not in it sends none."""
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._condition = threading.Condition()
        self.failures: dict[str, list[tuple[int, dict]]] = {}
        """method -> queued (HTTP status, JSON body) answers to give before the real one."""
        self.delays: dict[str, float] = {}
        """method -> seconds to wait before answering (a slow Bot API)."""
        self.blocked_chats: set[int] = set()
        """Chats whose user blocked the bot: every message there is answered 403."""
        self.chat_admins: dict[int, set[int]] = {}
        """group id -> the users getChatMember calls its admins (as its creator); others are members."""
        self.flooded_chats: dict[int, int] = {}
        """chat id -> retry_after seconds: every message to that chat is answered 429 (flood control)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._condition:
            self._condition.notify_all()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/file/bot"

    # -- what tests do ---------------------------------------------------------------------
    def add_file(self, data: bytes, size: int | None = None) -> tuple[str, int]:
        file_id = f"file{next(self._file_ids)}"
        self.files[file_id] = data
        return file_id, len(data) if size is None else size

    def push(self, update: dict) -> int:
        update_id = next(self._update_ids)
        with self._condition:
            self._updates.append({"update_id": update_id, **update})
            self._condition.notify_all()
        return update_id

    def pending_updates(self) -> int:
        """Updates the bot has not yet confirmed (with a later getUpdates offset) to have queued."""
        with self._condition:
            return len(self._updates)

    def user(self, user_id: int) -> dict:
        language = {"language_code": self.languages[user_id]} if user_id in self.languages else {}
        return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", **language}

    def chat(self, chat_id: int) -> dict:
        """A user's private chat; a negative id is a supergroup, as in Telegram."""
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Group{-chat_id}"}
        return {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}

    def message(self, user_id: int, **content) -> int:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(user_id),
            "from": self.user(user_id),
            **content,
        }
        self.keep(message)
        return self.push({"message": message})

    def keep(self, message: dict) -> dict:
        """Remember a message sent into a chat, so that replies to it show it."""
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    def delete(self, chat_id: int, message_id: int) -> None:
        """The user deletes a message: replies to it no longer show it, as in Telegram."""
        del self.messages[(chat_id, message_id)]

    def send_photo(self, user_id: int, data: bytes, size: int | None = None, **extra) -> int:
        file_id, file_size = self.add_file(data, size)
        sizes = [
            {
                "file_id": f"{file_id}-thumb",
                "file_unique_id": f"{file_id}-t",
                "width": 90,
                "height": 90,
                "file_size": 1000,
            },
            {
                "file_id": file_id,
                "file_unique_id": f"{file_id}-u",
                "width": 1280,
                "height": 960,
                "file_size": file_size,
            },
        ]
        return self.message(user_id, photo=sizes, **extra)

    def send_document(self, user_id: int, data: bytes, name: str, mime: str, size: int | None = None) -> int:
        file_id, file_size = self.add_file(data, size)
        return self.message(
            user_id,
            document={
                "file_id": file_id,
                "file_unique_id": f"{file_id}-u",
                "file_name": name,
                "mime_type": mime,
                "file_size": file_size,
            },
        )

    def send_clip(self, user_id: int, kind: str, data: bytes, **declared) -> str:
        """A video note, video, animation or video file (`kind` "document") as Telegram delivers
        it; `declared` overrides what the update says of the clip, as a lying client would.
        Returns the file's id."""
        file_id, size = self.add_file(data)
        fields = {"file_id": file_id, "file_unique_id": f"{file_id}-u", "file_size": size, "duration": 3}
        if kind == "video_note":
            self.message(user_id, video_note={**fields, "length": 480, **declared})
        elif kind == "video":
            self.message(user_id, video={**fields, "width": 480, "height": 480, "mime_type": "video/mp4", **declared})
        elif kind == "animation":
            # Telegram sends an animation with a copy of it as a document, for older clients.
            animation = {**fields, "width": 480, "height": 480, "file_name": "clip.gif", "mime_type": "image/gif"}
            copied = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type")
            self.message(user_id, animation={**animation, **declared}, document={k: animation[k] for k in copied})
        else:
            self.message(
                user_id,
                document={
                    "file_id": file_id,
                    "file_unique_id": f"{file_id}-u",
                    "file_name": "clip.mp4",
                    "mime_type": "video/mp4",
                    "file_size": size,
                },
            )
        return file_id

    def send_text(self, user_id: int, text: str, **extra) -> int:
        """A text from `user_id`; `extra` overrides the message's fields, e.g. `chat=fake.chat(-5)`
        to send it into a group."""
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
        )
        return self.message(user_id, text=text, entities=entities, **extra)

    def press(self, user_id: int, reply: Request, data: str) -> int:
        """Press an inline button under a message the bot sent."""
        message = self.sent_message(reply)
        return self.push(
            {
                "callback_query": {
                    "id": f"cb{next(self._update_ids)}",
                    "from": self.user(user_id),
                    "chat_instance": "ci",
                    "data": data,
                    "message": message,
                }
            }
        )

    def sent_message(self, request: Request) -> dict:
        """The message a sendMessage or sendPhoto request made, as a button press shows it: with
        the message it replies to, when that is still there."""
        params = request.params
        if request.method == "sendPhoto":
            content = {"photo": params["_photo"], **({"caption": params["caption"]} if params.get("caption") else {})}
        else:
            content = {"text": params.get("text", "")}
        chat_id = int(params["chat_id"])
        reply_to = replied_to(params)
        replied = None if reply_to is None else self.messages.get((chat_id, reply_to))
        return {
            "message_id": params["_message_id"],
            "date": int(request.at),
            "chat": self.chat(chat_id),
            "from": self.bot_user(),
            **content,
            **({"reply_markup": params["reply_markup"]} if params.get("reply_markup") else {}),
            **({"reply_to_message": replied} if replied is not None else {}),
        }

    def calls(self, method: str, chat_id: int | None = None) -> list[Request]:
        return [
            r
            for r in list(self.requests)
            if r.method == method and (chat_id is None or str(r.params.get("chat_id")) == str(chat_id))
        ]

    def wait_for(self, predicate, timeout: float = 30.0, what: str = "requests"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; saw {[r.method for r in self.requests][-30:]}")

    def replies_to(self, chat_id: int, count: int = 1, timeout: float = 30.0) -> list[Request]:
        return self.wait_for(
            lambda: (found := self.calls("sendMessage", chat_id)) and len(found) >= count and found,
            timeout,
            f"{count} sendMessage to {chat_id}",
        )

    def bot_user(self) -> dict:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "MaskBot",
            "username": "mask_test_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- the HTTP side ---------------------------------------------------------------------
    def _answer(self, method: str, params: dict):
        queued = self.failures.get(method)
        if queued:
            return queued.pop(0)
        if int(params.get("chat_id", 0) or 0) in self.blocked_chats and method.startswith(("send", "edit")):
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        flooded = self.flooded_chats.get(int(params.get("chat_id", 0) or 0))
        if flooded is not None and method.startswith(("send", "edit")):
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {flooded}",
                "parameters": {"retry_after": flooded},
            }
        if method == "getMe":
            return 200, {"ok": True, "result": self.bot_user()}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._take_updates(params)}
        if method == "getChatMember":
            user_id = int(params["user_id"])
            admin = user_id in self.chat_admins.get(int(params["chat_id"]), set())
            status = {"status": "creator", "is_anonymous": True} if admin else {"status": "member"}
            return 200, {"ok": True, "result": {"user": self.user(user_id), **status}}
        if method == "getFile":
            file_id = params["file_id"]
            if file_id not in self.files:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
            return 200, {
                "ok": True,
                "result": {
                    "file_id": file_id,
                    "file_unique_id": f"{file_id}-u",
                    "file_size": len(self.files[file_id]),
                    "file_path": f"photos/{file_id}.jpg",
                },
            }
        if method in ("sendMessage", "sendPhoto", "editMessageText", "editMessageCaption"):
            message_id = params["_message_id"]
            result = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": self.chat(int(params.get("chat_id", 0))),
                "from": self.bot_user(),
                "text": params.get("text", ""),
            }
            if "_photo" in params:
                result["photo"] = params["_photo"]
            return 200, {"ok": True, "result": result}
        if method in (
            "sendChatAction",
            "answerCallbackQuery",
            "setMyCommands",
            "deleteWebhook",
            "setWebhook",
            "editMessageReplyMarkup",
            "close",
            "logOut",
            "deleteMyCommands",
        ):
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": f"Not Found: method {method}"}

    def _take_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.time() + timeout
        with self._condition:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.time() < deadline:
                self._condition.wait(min(0.5, max(0.0, deadline - time.time())))
            return list(self._updates[:100])

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    # A bot that stopped while its long poll was open has hung up: as with the
                    # real Bot API, that answer is simply not delivered.
                    self.close_connection = True

            def do_GET(self) -> None:
                path = unquote(urlparse(self.path).path)
                prefix = f"/file/bot{fake.token}/photos/"
                if path.startswith(prefix):
                    file_id = path[len(prefix) :].rsplit(".", 1)[0]
                    if file_id in fake.files:
                        fake.requests.append(Request("download", {"file_id": file_id}, time.time()))
                        self._send(200, fake.files[file_id], "application/octet-stream")
                        return
                self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = urlparse(self.path).path
                prefix = f"/bot{fake.token}/"
                if not unquote(path).startswith(prefix):
                    self._send(
                        401,
                        json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}).encode(),
                        "application/json",
                    )
                    return
                method = unquote(path)[len(prefix) :]
                params = decode_body(self.headers.get("Content-Type", ""), body)
                if method in ("sendMessage", "sendPhoto", "editMessageText", "editMessageCaption"):
                    # Numbered before the request is visible to tests, which press buttons under it.
                    params["_message_id"] = int(params.get("message_id") or next(fake._message_ids))
                if method == "sendPhoto":
                    # Kept as a file, as Telegram keeps what a bot sends: it can be downloaded again.
                    file_id, size = fake.add_file(params["photo"])
                    params["_photo"] = [
                        {
                            "file_id": file_id,
                            "file_unique_id": f"{file_id}-u",
                            "width": 720,
                            "height": 324,
                            "file_size": size,
                        }
                    ]
                request = Request(method, params, time.time())
                if method != "getUpdates":
                    fake.requests.append(request)
                time.sleep(fake.delays.get(method, 0.0))
                status, answer = fake._answer(method, params)
                if method == "getUpdates" and answer.get("result"):
                    fake.requests.append(request)
                self._send(status, json.dumps(answer).encode(), "application/json")

        return Handler


def replied_to(params: dict) -> int | None:
    """The id of the message a send request replies to, if any."""
    reply = params.get("reply_parameters")
    if isinstance(reply, dict):
        return int(reply["message_id"])
    return int(params["reply_to_message_id"]) if params.get("reply_to_message_id") else None


def decode_body(content_type: str, body: bytes) -> dict:
    """Form-encoded or multipart fields; JSON-looking values (markups, lists) decoded."""
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        params = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                raise ValueError(f"form field {name!r} is not one part")
            params[name] = payload if part.get_filename() else payload.decode()
    elif content_type.startswith("application/json"):
        params = json.loads(body or b"{}")
    else:
        params = dict(parse_qsl(body.decode()))
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params
