"""The outbox's own HTTP client: a `BaseRequest` on aiohttp, built on PTB's public request API.

aiohttp is imported when the first request goes out, not when the bot starts: a process whose
outbox stays empty never loads it (tests/test_startup.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    import aiohttp


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on aiohttp: PTB's httpx one tops out well below 1,000 requests/s here."""

    def __init__(
        self,
        connections: int = 8,
        read_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        write_timeout: float = 10.0,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._write_timeout = write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to open yet: the session is made by the first request."""

    async def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        import aiohttp

        session = await self._open()

        def pick(value: Any, default: float) -> float | None:
            return default if value is BaseRequest.DEFAULT_NONE else value

        read = pick(read_timeout, self._read_timeout)
        write = pick(write_timeout, self._write_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=pick(connect_timeout, self._connect_timeout),
            sock_read=None if read is None else read + (write or 0.0),
        )
        data: Any = None
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters
        try:
            async with session.request(method, url, data=data, timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as exc:
            raise TimedOut(f"Timed out: {exc!r}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TimedOut("Connection failed. Request was *not* sent to Telegram.") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp error: {exc!r}") from exc
