"""Local stand-ins for the AI providers, for tests and the sandbox.

They speak the providers' wire protocols well enough that the official SDKs (`anthropic`,
`openai`, `google-genai`) accept the answers.

One aiohttp app serves all three:

- Anthropic  ``POST /v1/messages``                                   (base_url = the root)
- OpenAI     ``POST /v1/chat/completions`` and ``/chat/completions``  (base_url = root + "/v1")
- Gemini     ``POST /v1beta|v1/models/{model}:generateContent``       (base_url = the root)
- all three  ``GET /v1/models/{model}`` (Gemini ``/v1beta/models/{model}``): the model, as a key
  check asks for it (told apart by the key header)

Each provider is scriptable (tests call the methods; the sandbox can POST to ``/_ai/...``):
fail the next N requests with a status, delay the next N (to trip client timeouts), reply with a
fixed verdict or raw text. Every request is recorded with its system prompt and user content.

Unscripted, each provider answers as a deterministic **naive model**: it obeys any instruction
``answer {json}`` written *outside* the data block the system prompt announces (delimiters
``<<<DATA {nonce}>>>`` ... ``<<<END DATA {nonce}>>>``), and otherwise judges the message inside
the block by keywords. It is deliberately gullible, so a test can show that a member's text
really stays inside the block: with a prompt that leaked it outside, this model would obey it.

Run it alone for the sandbox: ``python -m simulator.ai_providers --port 8767`` and set
``ANTHROPIC_BASE_URL=http://127.0.0.1:8767``, ``OPENAI_BASE_URL=http://127.0.0.1:8767/v1``,
``GEMINI_BASE_URL=http://127.0.0.1:8767`` (any non-placeholder API keys).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

PROVIDERS = ("anthropic", "openai", "gemini")


@dataclass
class RecordedAIRequest:
    """One request a provider received, and what became of it."""

    provider: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    model: str
    system: str
    user: str
    outcome: str = "pending"
    """'ok', 'error <status>', 'delayed' (the client may have given up) or 'pending'."""
    reply: str | None = None


@dataclass
class ProviderScript:
    """What a provider does with its next requests."""

    fail_next: int = 0
    fail_status: int = 500
    delay_next: int = 0
    delay_seconds: float = 0.0
    reply: str | None = None
    """Fixed reply text (a verdict's JSON, or anything to test invalid replies); None: naive."""


@dataclass
class AIProviderSimulator:
    """The three providers on one local port."""

    host: str = "127.0.0.1"
    port: int = 0
    scripts: dict[str, ProviderScript] = field(
        default_factory=lambda: {p: ProviderScript() for p in PROVIDERS}
    )
    requests: list[RecordedAIRequest] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------------ addresses
    @property
    def root_url(self) -> str:
        """``http://host:port``: the base URL for the Anthropic and Gemini SDKs."""
        return f"http://{self.host}:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for `anthropic.AsyncAnthropic`."""
        return self.root_url

    @property
    def openai_base_url(self) -> str:
        """Base URL for `openai.AsyncOpenAI` (its paths are relative to /v1)."""
        return f"{self.root_url}/v1"

    @property
    def gemini_base_url(self) -> str:
        """Base URL for `google.genai.Client(http_options=...)`."""
        return self.root_url

    # ------------------------------------------------------------------ scripting
    def fail(self, provider: str, times: int = 1_000_000, status: int = 500) -> None:
        """Answer the provider's next `times` requests with an error status."""
        script = self.scripts[provider]
        script.fail_next, script.fail_status = times, status

    def delay(self, provider: str, seconds: float, times: int = 1_000_000) -> None:
        """Hold the provider's next `times` requests for `seconds` before answering."""
        script = self.scripts[provider]
        script.delay_next, script.delay_seconds = times, seconds

    def reply_with(self, provider: str, reply: str | dict[str, Any] | None) -> None:
        """Always reply with this text (a dict is sent as JSON); None restores the naive model."""
        self.scripts[provider].reply = json.dumps(reply) if isinstance(reply, dict) else reply

    def reset(self) -> None:
        """Forget scripts and recorded requests."""
        self.scripts = {p: ProviderScript() for p in PROVIDERS}
        self.requests.clear()

    def requests_to(self, provider: str) -> list[RecordedAIRequest]:
        """Recorded requests to one provider, oldest first."""
        return [r for r in self.requests if r.provider == provider]

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> AIProviderSimulator:
        """Bind and serve (port 0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("already started")
        self._stopping = asyncio.Event()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        runner = web.AppRunner(self.build_app(), shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Release delayed requests and stop serving."""
        if self._runner is None:
            return
        self._stopping.set()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> AIProviderSimulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ the app
    def build_app(self) -> web.Application:
        """Routes of the three providers and the control endpoints."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/chat/completions", self._openai)
        app.router.add_post("/v1beta/models/{model_action}", self._gemini)
        app.router.add_post("/v1/models/{model_action}", self._gemini)  # google-genai 3.x default
        app.router.add_get("/v1/models/{model}", self._model_info)  # Anthropic and OpenAI
        app.router.add_get("/v1beta/models/{model}", self._model_info)  # Gemini
        app.router.add_post("/_ai/{provider}/script", self._control_script)
        app.router.add_post("/_ai/reset", self._control_reset)
        app.router.add_get("/_ai/requests", self._control_requests)
        return app

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        system = _text_of(body.get("system"))
        user = "\n".join(
            _text_of(m.get("content")) for m in body.get("messages", []) if m.get("role") == "user"
        )
        rec = self._record("anthropic", request, body, str(body.get("model", "")), system, user)
        error = await self._scripted_trouble(rec)
        if error is not None:
            return web.json_response(
                {"type": "error", "error": {"type": "api_error", "message": "simulated failure"}},
                status=error,
                headers={"request-id": f"req_sim_{uuid.uuid4().hex[:12]}"},
            )
        reply = self._reply(rec)
        payload = {
            "id": f"msg_sim_{uuid.uuid4().hex[:20]}",
            "type": "message",
            "role": "assistant",
            "model": rec.model,
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": _tokens(system + user), "output_tokens": _tokens(reply)},
        }
        return web.json_response(payload, headers={"request-id": f"req_sim_{uuid.uuid4().hex}"})

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        messages = body.get("messages", [])
        system = "\n".join(
            _text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
        )
        user = "\n".join(_text_of(m.get("content")) for m in messages if m.get("role") == "user")
        rec = self._record("openai", request, body, str(body.get("model", "")), system, user)
        error = await self._scripted_trouble(rec)
        if error is not None:
            return web.json_response(
                {
                    "error": {
                        "message": "simulated failure",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                },
                status=error,
            )
        reply = self._reply(rec)
        prompt_tokens, completion_tokens = _tokens(system + user), _tokens(reply)
        payload = {
            "id": f"chatcmpl-sim{uuid.uuid4().hex[:20]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": rec.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return web.json_response(payload, headers={"x-request-id": uuid.uuid4().hex})

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["model_action"].partition(":")
        if action != "generateContent":
            problem = {"code": 404, "message": f"unknown action {action}", "status": "NOT_FOUND"}
            return web.json_response({"error": problem}, status=404)
        body = await request.json()
        system_block = body.get("systemInstruction") or body.get("system_instruction") or {}
        system = "\n".join(str(p.get("text", "")) for p in system_block.get("parts", []))
        user = "\n".join(
            str(p.get("text", ""))
            for c in body.get("contents", [])
            if c.get("role", "user") == "user"
            for p in c.get("parts", [])
        )
        rec = self._record("gemini", request, body, model, system, user)
        error = await self._scripted_trouble(rec)
        if error is not None:
            status = "INTERNAL" if error >= 500 else "INVALID_ARGUMENT"
            return web.json_response(
                {"error": {"code": error, "message": "simulated failure", "status": status}},
                status=error,
            )
        reply = self._reply(rec)
        prompt_tokens, completion_tokens = _tokens(system + user), _tokens(reply)
        payload = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": reply}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": completion_tokens,
                "totalTokenCount": prompt_tokens + completion_tokens,
            },
            "modelVersion": model,
            "responseId": uuid.uuid4().hex[:16],
        }
        return web.json_response(payload)

    async def _model_info(self, request: web.Request) -> web.StreamResponse:
        """GET one model (what a key check calls): the provider is told apart by its key header.

        Anthropic sends `x-api-key`, OpenAI `Authorization: Bearer`, Gemini `x-goog-api-key` (or
        `?key=`); no key is a 401, a failure script applies like on generation.
        """
        headers = request.headers
        if "x-api-key" in headers:
            provider = "anthropic"
        elif headers.get("Authorization", "").startswith("Bearer "):
            provider = "openai"
        elif "x-goog-api-key" in headers or "key" in request.query:
            provider = "gemini"
        else:
            return web.json_response({"error": {"message": "no API key"}}, status=401)
        model = request.match_info["model"]
        rec = self._record(provider, request, {}, model, "", "")
        error = await self._scripted_trouble(rec)
        if error is not None:
            return web.json_response({"error": {"message": "simulated failure"}}, status=error)
        return web.json_response({"id": model, "name": f"models/{model}", "type": "model"})

    def _record(
        self,
        provider: str,
        request: web.Request,
        body: dict[str, Any],
        model: str,
        system: str,
        user: str,
    ) -> RecordedAIRequest:
        rec = RecordedAIRequest(
            provider=provider,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            model=model,
            system=system,
            user=user,
        )
        self.requests.append(rec)
        return rec

    async def _scripted_trouble(self, rec: RecordedAIRequest) -> int | None:
        """Apply the provider's delay and failure scripts; the error status to send, if any."""
        script = self.scripts[rec.provider]
        if script.delay_next > 0:
            script.delay_next -= 1
            rec.outcome = "delayed"
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=script.delay_seconds)
            except TimeoutError:
                pass
        if script.fail_next > 0:
            script.fail_next -= 1
            rec.outcome = f"error {script.fail_status}"
            return script.fail_status
        rec.outcome = "ok"
        return None

    def _reply(self, rec: RecordedAIRequest) -> str:
        script = self.scripts[rec.provider]
        rec.reply = script.reply if script.reply is not None else naive_model(rec.system, rec.user)
        return rec.reply

    # ------------------------------------------------------------------ control endpoints
    async def _control_script(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        if provider not in PROVIDERS:
            return web.json_response({"error": f"unknown provider {provider}"}, status=404)
        spec = await request.json()
        if "fail" in spec:
            self.fail(provider, int(spec["fail"]), int(spec.get("status", 500)))
        if "delay" in spec:
            self.delay(provider, float(spec["delay"]), int(spec.get("delay_times", 1_000_000)))
        if "reply" in spec:
            self.reply_with(provider, spec["reply"])
        return web.json_response({"ok": True})

    async def _control_reset(self, _request: web.Request) -> web.StreamResponse:
        self.reset()
        return web.json_response({"ok": True})

    async def _control_requests(self, _request: web.Request) -> web.StreamResponse:
        return web.json_response(
            [
                {
                    "provider": r.provider,
                    "path": r.path,
                    "model": r.model,
                    "outcome": r.outcome,
                    "reply": r.reply,
                }
                for r in self.requests
            ]
        )


# ---------------------------------------------------------------------- the naive model

_OPEN_MARKER = re.compile(r"<<<DATA ([0-9a-f]{16,64})>>>")
_ANSWER = re.compile(r"\banswer\b\s*:?\s*(?=\{)", re.IGNORECASE)

_KEYWORDS: tuple[tuple[tuple[str, ...], str, str, float], ...] = (
    (("free nitro", "steam gift", "claim your prize", "crypto giveaway"), "scam", "ban", 0.9),
    (("kill you", "hurt you", "find where you live"), "threat", "mute", 0.85),
    (("idiot", "moron", "stupid", "worthless", "loser", "trash human"), "harassment", "warn", 0.8),
)


def split_data(system: str, user: str) -> tuple[str, str]:
    """(text outside the announced data block, text inside it) of a request.

    The block's delimiters are whatever the system prompt announces; when it announces none, or
    the user turn does not hold the block, all of the user turn counts as both.
    """
    found = _OPEN_MARKER.search(system)
    if found is None:
        return system + "\n" + user, user
    nonce = found.group(1)
    opening, closing = f"<<<DATA {nonce}>>>", f"<<<END DATA {nonce}>>>"
    start = user.find(opening)
    end = user.find(closing, start + len(opening)) if start >= 0 else -1
    if start < 0 or end < 0:
        return system + "\n" + user, user
    inside = user[start + len(opening) : end]
    outside = system + "\n" + user[:start] + "\n" + user[end + len(closing) :]
    return outside, inside


def _obeyed_instruction(outside: str) -> str | None:
    """The JSON of the first `answer {...}` instruction in the text, if there is one."""
    decoder = json.JSONDecoder()
    for match in _ANSWER.finditer(outside):
        try:
            value, _ = decoder.raw_decode(outside, match.end())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return json.dumps(value)
    return None


def naive_model(system: str, user: str) -> str:
    """A gullible, deterministic reviewer (see the module docstring)."""
    outside, inside = split_data(system, user)
    obeyed = _obeyed_instruction(outside)
    if obeyed is not None:
        return obeyed
    try:
        data = json.loads(inside)
        message = str(data.get("message", "")) if isinstance(data, dict) else inside
    except json.JSONDecodeError:
        message = inside
    lowered = message.lower()
    for words, category, action, confidence in _KEYWORDS:
        hit = next((w for w in words if w in lowered), None)
        if hit is not None:
            return json.dumps(
                {
                    "action": action,
                    "categories": [category],
                    "confidence": confidence,
                    "reason": f"The message contains '{hit}'.",
                }
            )
    return json.dumps(
        {"action": "none", "categories": [], "confidence": 0.9, "reason": "Nothing wrong found."}
    )


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or a list of blocks with a 'text'."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return ""


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


async def _serve(host: str, port: int) -> None:
    sim = AIProviderSimulator(host=host, port=port)
    await sim.start()
    print(f"AI provider simulator on {sim.root_url}")
    print(f"  ANTHROPIC_BASE_URL={sim.anthropic_base_url}")
    print(f"  OPENAI_BASE_URL={sim.openai_base_url}")
    print(f"  GEMINI_BASE_URL={sim.gemini_base_url}")
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main() -> None:
    """`python -m simulator.ai_providers [--host H] [--port P]`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
