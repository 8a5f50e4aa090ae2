"""A local Telegram Bot API server, enough of it for python-telegram-bot, plus a chat page.

``TelegramSimulator`` speaks the real protocol under ``/bot<token>/<method>`` (query string, form
or JSON parameters; ``{"ok": true, "result": ...}`` answers; Telegram's error shapes, including 429
with ``parameters.retry_after``): getMe, getUpdates (long polling with offset and timeout),
deleteWebhook, getWebhookInfo, sendMessage (inline keyboards), editMessageText,
editMessageReplyMarkup, answerCallbackQuery, set/get/deleteMyCommands, getChat.

Scripting for tests: :meth:`press_button` queues a ``callback_query`` (any data, so tests can
forge), :meth:`send_text` queues a user's message (``/pending``), :meth:`messages` and
:attr:`answers` show what the bot did, :meth:`fail_next` makes the next call of a method fail.

In sandbox mode ``GET /`` is a small page showing the approval chat with its buttons; a click posts
to ``/_tg/click`` and becomes a callback query from the configured web user, so a newcomer can press
Approve without a Telegram account.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class TelegramAPIError(Exception):
    """An error answer: HTTP status, description and optional ``parameters``."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class Fault:
    """Make the next call(s) of `method` fail."""

    method: str
    code: int
    description: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class AnsweredQuery:
    """What the bot answered to a button press (the toast)."""

    callback_query_id: str
    from_user_id: int
    data: str
    text: str | None
    show_alert: bool
    at: float


@dataclass
class _Chat:
    id: int
    title: str
    type: str = "supergroup"
    username: str | None = None
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_message_id: int = 1

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.username:
            out["username"] = self.username
        return out


def _user(user_id: int, first_name: str | None = None, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": bot,
        "first_name": first_name or f"User {user_id}",
        "username": f"user{user_id}" if not bot else None,
    }


class TelegramSimulator:
    """One fake Telegram with one bot, some chats, updates queued by scripts or the web page."""

    def __init__(
        self,
        token: str,
        *,
        chats: dict[int, str] | None = None,
        bot_username: str = "dcs_approvals_bot",
        web_chat_id: int | None = None,
        web_user_id: int | None = None,
        web_user_name: str = "Sandbox Moderator",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_user = _user(self.bot_id, "DCS Approvals", bot=True)
        self.bot_user["username"] = bot_username
        self.chats: dict[int, _Chat] = {
            cid: _Chat(cid, title) for cid, title in (chats or {}).items()
        }
        self.users: dict[int, dict[str, Any]] = {}
        self.web_chat_id = web_chat_id
        self.web_user_id = web_user_id
        if web_user_id is not None:
            self.users[web_user_id] = _user(web_user_id, web_user_name)
        self.updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._query_ids = itertools.count(1)
        self.queries: dict[str, dict[str, Any]] = {}
        self.answers: list[AnsweredQuery] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.commands: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self._changed = asyncio.Event()
        self._closing = False
        self.version = 0
        self.host = "127.0.0.1"
        self.port = 0
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://host:port``; python-telegram-bot's base_url is ``{base_url}/bot``."""
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen (port 0 picks a free one)."""
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/", self._page)
        app.router.add_get("/_tg/state", self._state)
        app.router.add_post("/_tg/click", self._click)
        app.router.add_post("/_tg/say", self._say)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening (waiting long polls are released)."""
        self._closing = True
        self._touch()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ scripting
    def add_chat(self, chat_id: int, title: str, username: str | None = None) -> None:
        """Make a chat exist (sendMessage to an unknown chat fails like Telegram's)."""
        self.chats.setdefault(chat_id, _Chat(chat_id, title, username=username))

    def add_user(self, user_id: int, first_name: str) -> None:
        """Name a user who will press buttons or write."""
        self.users[user_id] = _user(user_id, first_name)

    def messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's messages, oldest first, as Telegram's Message JSON."""
        return [dict(m) for m in self.chats[chat_id].messages.values()]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """One message as it is now."""
        return dict(self.chats[chat_id].messages[message_id])

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button of a message, row by row."""
        markup = message.get("reply_markup") or {}
        return [
            (b["text"], b.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for b in row
        ]

    def press_button(
        self, chat_id: int, message_id: int, callback_data: str, from_user_id: int
    ) -> str:
        """Queue a callback_query as if the user pressed a button carrying `callback_data`.

        The data is not checked against the message's buttons, so tests can send forged data
        (a modified client can do the same to the real Telegram). Returns the query id.
        """
        msg = self.chats[chat_id].messages[message_id]
        query_id = f"{self.bot_id}{next(self._query_ids):08d}"
        user = self.users.setdefault(from_user_id, _user(from_user_id))
        query = {
            "id": query_id,
            "from": user,
            "message": dict(msg),
            "chat_instance": f"ci{chat_id}",
            "data": callback_data,
        }
        self.queries[query_id] = query
        self._queue({"callback_query": query})
        return query_id

    def send_text(self, chat_id: int, from_user_id: int, text: str) -> int:
        """Queue a user's message (a leading /command is marked as one); returns its id."""
        chat = self.chats[chat_id]
        user = self.users.setdefault(from_user_id, _user(from_user_id))
        msg: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "date": int(time.time()),
            "chat": chat.as_json(),
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        chat.messages[chat.next_message_id] = msg
        chat.next_message_id += 1
        self._queue({"message": msg})
        return int(msg["message_id"])

    def fail_next(
        self, method: str, code: int, description: str, *, retry_after: int | None = None
    ) -> None:
        """The next call of `method` answers with this error (429 carries retry_after)."""
        self.faults.append(Fault(method, code, description, retry_after))

    def answer_for(self, callback_query_id: str) -> AnsweredQuery | None:
        """The bot's answer to that press, if it has answered."""
        return next((a for a in self.answers if a.callback_query_id == callback_query_id), None)

    async def wait_for_answer(self, callback_query_id: str, timeout: float = 10.0) -> AnsweredQuery:
        """Wait until the bot answers the press (every handled press is answered)."""
        await self.wait_until(lambda: self.answer_for(callback_query_id) is not None, timeout)
        answer = self.answer_for(callback_query_id)
        assert answer is not None
        return answer

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate()` holds after some API call; TimeoutError otherwise."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await self._changed.wait()

    # ------------------------------------------------------------------ state changes
    def _queue(self, body: dict[str, Any]) -> None:
        self.updates.append({"update_id": self._next_update_id, **body})
        self._next_update_id += 1
        self._touch()

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ Bot API
    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                params.update(
                    {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
                )
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(TelegramAPIError(401, "Unauthorized"))
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        self._touch()
        fault = next((f for f in self.faults if f.method.lower() == method.lower()), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            extra = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
            self._touch()
            return _error(TelegramAPIError(fault.code, fault.description, extra))
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(TelegramAPIError(404, "Not Found"))
        try:
            result = await handler(params)
        except TelegramAPIError as exc:
            self._touch()
            return _error(exc)
        self._touch()
        return web.json_response({"ok": True, "result": result})

    def _chat(self, params: dict[str, Any]) -> _Chat:
        raw = str(params.get("chat_id", ""))
        for chat in self.chats.values():
            if raw == str(chat.id) or (
                chat.username and raw.lower() == "@" + chat.username.lower()
            ):
                return chat
        raise TelegramAPIError(400, "Bad Request: chat not found")

    @staticmethod
    def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
        raw = params.get("reply_markup")
        if raw in (None, ""):
            return None
        markup = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(markup, dict):
            raise TelegramAPIError(
                400, "Bad Request: can't parse reply keyboard markup JSON object"
            )
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise TelegramAPIError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise TelegramAPIError(400, "Bad Request: text buttons are unallowed")
        return markup if markup.get("inline_keyboard") else None

    def _message(self, params: dict[str, Any]) -> tuple[_Chat, dict[str, Any]]:
        chat = self._chat(params)
        try:
            msg = chat.messages[int(params.get("message_id", 0))]
        except (KeyError, ValueError):
            raise TelegramAPIError(400, "Bad Request: message to edit not found") from None
        return chat, msg

    async def _m_getme(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False}

    async def _m_deletewebhook(self, _params: dict[str, Any]) -> bool:
        return True

    async def _m_getwebhookinfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }

    async def _m_setmycommands(self, params: dict[str, Any]) -> bool:
        raw = params.get("commands", "[]")
        self.commands = json.loads(raw) if isinstance(raw, str) else list(raw)
        return True

    async def _m_getmycommands(self, _params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands

    async def _m_deletemycommands(self, _params: dict[str, Any]) -> bool:
        self.commands = []
        return True

    async def _m_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._chat(params).as_json()

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        try:
            timeout = max(0.0, min(50.0, float(params.get("timeout") or 0)))
        except ValueError:
            timeout = 0.0
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

        def ready() -> bool:
            return bool(self.updates) or self._closing

        if not ready() and timeout:
            try:
                await self.wait_until(ready, timeout)
            except TimeoutError:
                pass
        return self.updates[:limit]

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise TelegramAPIError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise TelegramAPIError(400, "Bad Request: message is too long")
        msg: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "date": int(time.time()),
            "chat": chat.as_json(),
            "from": self.bot_user,
            "text": text,
        }
        markup = self._markup(params)
        if markup is not None:
            msg["reply_markup"] = markup
        chat.messages[chat.next_message_id] = msg
        chat.next_message_id += 1
        return dict(msg)

    async def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        _, msg = self._message(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise TelegramAPIError(400, "Bad Request: message text is empty")
        markup = self._markup(params)  # absent: the inline keyboard goes, as on Telegram
        if msg["text"] == text and msg.get("reply_markup") == markup:
            raise TelegramAPIError(400, NOT_MODIFIED)
        msg["text"] = text
        msg["edit_date"] = int(time.time())
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup
        return dict(msg)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        _, msg = self._message(params)
        markup = self._markup(params)
        if msg.get("reply_markup") == markup:
            raise TelegramAPIError(400, NOT_MODIFIED)
        msg["edit_date"] = int(time.time())
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup
        return dict(msg)

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        query = self.queries.get(query_id)
        if query is None or self.answer_for(query_id) is not None:
            raise TelegramAPIError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise TelegramAPIError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answers.append(
            AnsweredQuery(
                callback_query_id=query_id,
                from_user_id=int(query["from"]["id"]),
                data=str(query.get("data", "")),
                text=None if text is None else str(text),
                show_alert=str(params.get("show_alert", "")).lower() == "true",
                at=time.time(),
            )
        )
        return True

    # ------------------------------------------------------------------ the web page
    def _web_ready(self) -> tuple[_Chat, int]:
        if self.web_chat_id is None or self.web_user_id is None:
            raise web.HTTPNotFound(text="no web chat configured")
        return self.chats[self.web_chat_id], self.web_user_id

    async def _page(self, _request: web.Request) -> web.Response:
        chat, user_id = self._web_ready()
        name = self.users[user_id]["first_name"]
        page = (
            _PAGE.replace("{{TITLE}}", _html(chat.title))
            .replace("{{USER}}", _html(f"{name} (Telegram id {user_id})"))
            .replace("{{BOT}}", _html("@" + str(self.bot_user["username"])))
        )
        return web.Response(text=page, content_type="text/html")

    async def _state(self, _request: web.Request) -> web.Response:
        chat, user_id = self._web_ready()
        toasts = [
            {"id": a.callback_query_id, "text": a.text, "alert": a.show_alert}
            for a in self.answers
            if a.from_user_id == user_id
        ]
        return web.json_response(
            {"version": self.version, "messages": self.messages(chat.id), "toasts": toasts[-20:]}
        )

    async def _click(self, request: web.Request) -> web.Response:
        chat, user_id = self._web_ready()
        body = await request.json()
        message_id, data = int(body.get("message_id", 0)), str(body.get("data", ""))
        msg = chat.messages.get(message_id)
        if msg is None or data not in [d for _, d in self.buttons(msg)]:
            return web.json_response({"ok": False, "description": "no such button"}, status=400)
        query_id = self.press_button(chat.id, message_id, data, user_id)
        return web.json_response({"ok": True, "callback_query_id": query_id})

    async def _say(self, request: web.Request) -> web.Response:
        chat, user_id = self._web_ready()
        text = str((await request.json()).get("text", "")).strip()
        if not text:
            return web.json_response({"ok": False, "description": "empty"}, status=400)
        return web.json_response({"ok": True, "message_id": self.send_text(chat.id, user_id, text)})


def _error(exc: TelegramAPIError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return web.json_response(body, status=exc.code)


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}} - sandbox Telegram</title>
<style>
 body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #e6ebee; }
 header { background: #517da2; color: #fff; padding: 10px 16px; }
 header small { opacity: .8; display: block; }
 #chat { max-width: 720px; margin: 0 auto; padding: 12px; }
 .msg { background: #fff; border-radius: 10px; padding: 8px 12px; margin: 10px 0;
        box-shadow: 0 1px 1px rgba(0,0,0,.15); }
 .msg.mine { background: #effdde; margin-left: 20%; }
 .who { font-weight: 600; color: #517da2; font-size: 13px; }
 .text { white-space: pre-wrap; word-wrap: break-word; }
 .meta { color: #8a9aa8; font-size: 12px; text-align: right; }
 .kb-row { display: flex; gap: 4px; margin-top: 4px; }
 .kb-row button { flex: 1; padding: 8px; border: 0; border-radius: 6px; cursor: pointer;
        background: #dfe8f0; color: #1b4d74; font: inherit; }
 .kb-row button:hover { background: #c9d9e7; }
 #toast { position: fixed; left: 50%; top: 20px; transform: translateX(-50%); background: #333c;
        color: #fff; padding: 10px 16px; border-radius: 8px; display: none; max-width: 80%; }
 form { max-width: 720px; margin: 0 auto 20px; display: flex; gap: 6px; padding: 0 12px; }
 form input { flex: 1; padding: 8px; } .empty { color: #666; text-align: center; }
</style></head>
<body>
<header><b>{{TITLE}}</b> with {{BOT}}
<small>Sandbox Telegram: you are {{USER}}, an approver of the sandbox server.
Press a button as you would in Telegram.</small></header>
<div id="chat"><p class="empty">No messages yet. A sensitive action (kick, ban, ...) waiting
for approval will appear here.</p></div>
<form id="say"><input id="text" placeholder="Message, e.g. /pending" autocomplete="off">
<button>Send</button></form>
<div id="toast"></div>
<script>
"use strict";
let version = -1; const seen = new Set();
function el(tag, cls, text) {
  const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; return e;
}
function toast(text) {
  const t = document.getElementById("toast"); t.textContent = text; t.style.display = "block";
  clearTimeout(t.timer); t.timer = setTimeout(() => { t.style.display = "none"; }, 4000);
}
async function click(messageId, data) {
  const r = await fetch("/_tg/click", {method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({message_id: messageId, data: data})});
  if (!r.ok) toast("That button is gone.");
}
function render(state) {
  const chat = document.getElementById("chat"); chat.replaceChildren();
  if (!state.messages.length) chat.append(el("p", "empty", "No messages yet."));
  for (const m of state.messages) {
    const box = el("div", m.from && m.from.is_bot ? "msg" : "msg mine");
    box.append(el("div", "who", m.from ? m.from.first_name : ""), el("div", "text", m.text));
    const kb = (m.reply_markup && m.reply_markup.inline_keyboard) || [];
    for (const row of kb) {
      const r = el("div", "kb-row");
      for (const b of row) {
        const btn = el("button", "", b.text);
        btn.onclick = () => click(m.message_id, b.callback_data); r.append(btn);
      }
      box.append(r);
    }
    const when = new Date(1000 * (m.edit_date || m.date)).toLocaleTimeString();
    box.append(el("div", "meta", (m.edit_date ? "edited " : "") + when)); chat.append(box);
  }
  for (const t of state.toasts) {
    if (!seen.has(t.id)) { if (version >= 0 && t.text) toast(t.text); seen.add(t.id); }
  }
}
async function poll() {
  try {
    const r = await fetch("/_tg/state"); const state = await r.json();
    if (state.version !== version) { render(state); version = state.version; }
  } catch (e) { /* the sandbox restarted; try again */ }
  setTimeout(poll, 700);
}
document.getElementById("say").onsubmit = async (ev) => {
  ev.preventDefault(); const input = document.getElementById("text");
  if (!input.value.trim()) return;
  await fetch("/_tg/say", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({text: input.value})}); input.value = "";
};
poll();
</script>
</body></html>
"""
