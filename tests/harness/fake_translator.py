"""A fake LibreTranslate server on 127.0.0.1: `POST /translate` and `POST /detect`, as the
real one takes them (JSON or form bodies; `q`, `source`, `target`, `format`, `api_key`).

Translations come from a phrase book (`phrases[(text, target)]`), else are made up as
`[target] text` so a test can see what was translated into what. What goes wrong in real
life is scripted: answers `delay` seconds late, `fail_with` an HTTP status (500, 503...),
`unsupported` target languages (LibreTranslate's 400 "... is not supported"), `echo` (the
text sent back untranslated, as a server without that language pair does), a `detect_as`
language for /detect (a wrong one included), an `api_key` it requires. Every request is
recorded in `requests`.

    async with FakeTranslator() as tr:
        ...TRANSLATION_URL=tr.url...
        tr.delay = 10      # slower than the bot's timeout
        await tr.stop()    # the translator goes down
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeTranslator:
    host: str = "127.0.0.1"
    port: int = 0
    phrases: dict[tuple[str, str], str] = field(default_factory=dict)
    delay: float = 0.0
    fail_with: int | None = None
    unsupported: set[str] = field(default_factory=set)
    echo: bool = False
    detect_as: str = "en"
    api_key: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def translations(self, target: str | None = None) -> list[dict[str, Any]]:
        """The /translate requests, optionally only those into `target`."""
        return [
            r
            for r in self.requests
            if r["path"] == "/translate" and (target is None or r.get("target") == target)
        ]

    async def start(self) -> FakeTranslator:
        app = web.Application()
        app.router.add_post("/translate", self._translate)
        app.router.add_post("/detect", self._detect)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Down: connections are refused from now on (start() again brings it back)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTranslator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            params = dict(body) if isinstance(body, dict) else {}
        else:
            params = dict(await request.post())
        params["path"] = request.path
        self.requests.append(params)
        return params

    async def _refusal(self, params: dict[str, Any]) -> web.Response | None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.api_key is not None and params.get("api_key") != self.api_key:
            return web.json_response({"error": "Invalid API key"}, status=403)
        if self.fail_with is not None:
            return web.json_response({"error": "Internal error"}, status=self.fail_with)
        return None

    async def _translate(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        refused = await self._refusal(params)
        if refused is not None:
            return refused
        text, source, target = str(params.get("q", "")), params.get("source"), params.get("target")
        if not text or not source or not target:
            return web.json_response({"error": "Invalid request: missing q"}, status=400)
        for code in (source, target):
            if code in self.unsupported:
                return web.json_response({"error": f"{code} is not supported"}, status=400)
        if self.echo:
            return web.json_response({"translatedText": text})
        translated = self.phrases.get((text, str(target)), f"[{target}] {text}")
        return web.json_response({"translatedText": translated})

    async def _detect(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        refused = await self._refusal(params)
        if refused is not None:
            return refused
        return web.json_response([{"language": self.detect_as, "confidence": 90.0}])
