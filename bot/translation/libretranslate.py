"""A self-hosted LibreTranslate server: POST /translate and POST /detect (JSON)."""

from __future__ import annotations

import aiohttp

from bot.translation import TranslationUnavailable


class LibreTranslate:
    name = "libretranslate"

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self._url = url.rstrip("/")
        self._api_key = api_key
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _post(self, path: str, payload: dict[str, str]) -> object:
        if self._api_key:
            payload = {**payload, "api_key": self._api_key}
        try:
            async with self._client().post(self._url + path, json=payload) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200:
                    error = body.get("error") if isinstance(body, dict) else None
                    raise TranslationUnavailable(f"HTTP {resp.status}: {error or 'no detail'}")
                return body
        except (aiohttp.ClientError, ValueError) as exc:
            raise TranslationUnavailable(type(exc).__name__) from exc

    async def translate(self, text: str, source: str, target: str) -> str:
        body = await self._post(
            "/translate", {"q": text, "source": source, "target": target, "format": "text"}
        )
        translated = body.get("translatedText") if isinstance(body, dict) else None
        if not isinstance(translated, str) or not translated.strip():
            raise TranslationUnavailable("no translatedText in the answer")
        return translated

    async def detect(self, text: str) -> str | None:
        body = await self._post("/detect", {"q": text})
        if isinstance(body, list) and body and isinstance(body[0], dict):
            language = body[0].get("language")
            return language if isinstance(language, str) else None
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
