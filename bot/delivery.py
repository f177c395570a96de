"""The outbox sender: claim due delivery rows, send them at Telegram's pace, record the outcome.

One sender carries everything mass-sent (broadcasts with copyMessage; reminders, nudges and
digests as pre-rendered text). Its rules, from measurements on this machine (DESIGN.md):

- pacing is a strict window: never more than `send_rate_per_second` sends in any one-second
  window (a sliding log of the last sends) and an even spacing between them, so there is no
  burst at the start or after a pause; each chat gets at most `send_rate_per_chat_per_second`;
- a small fixed number of requests is in flight (`send_concurrency`), never thousands waiting
  in an HTTP pool;
- 429 pauses every send for `retry_after`, and the row goes again without counting an attempt;
  5xx and timeouts come back after an exponential backoff with jitter, up to
  `send_max_attempts`; 400 fails the row; 403 marks the row and the official unreachable;
- the bot's own replies (and the progress messages) share the window: in the process that
  runs the sender they pass through `SharedWindow`, which takes the next free slot for them,
  so replies and the outbox together stay within the limit instead of drawing 429s;
- the database decides who sends what: rows are leased (`claimed_until`/`claimed_by`) in
  short transactions with `FOR UPDATE SKIP LOCKED`, outcomes are written every ~0.1 s, and a
  row whose lease is about to run out is given back instead of sent. A killed process
  re-sends at most what was in flight or sent-but-not-yet-written when it died.

It is not a service (it imports telegram); `bot.scheduling.start` starts it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import secrets
import socket
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiohttp
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter
from telegram.request import BaseRequest, RequestData
from telegram.warnings import PTBDeprecationWarning

from bot.db import outbox
from bot.db.models import DeliveryStatus
from bot.runtime import Deps

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
FLUSH_SECONDS = 0.1
FLUSH_ROWS = 100
CANCEL_CHECK_SECONDS = 0.5
LOOKAHEAD = 64  # rows scanned for one whose chat may receive now
# Bot API methods that deliver a message: what Telegram's message limits count.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "sendPhoto",
        "sendDocument",
        "sendVideo",
        "sendVoice",
        "sendAudio",
        "sendAnimation",
        "sendLocation",
        "sendMediaGroup",
        "sendSticker",
        "sendContact",
        "sendVenue",
        "sendPoll",
        "sendDice",
        "sendVideoNote",
    }
)
# Set while the sender itself sends, so its (already paced) sends are not counted twice when
# it shares the application's Bot (SEND_TRANSPORT=default).
_outbox_send: ContextVar[bool] = ContextVar("outbox_send", default=False)


class Timer(Protocol):
    """Monotonic time for pacing; tests pass a fake one whose sleep only moves the clock."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class RealTimer:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Pacer:
    """When the next send may go: a strict window overall and per chat, plus 429 pauses.

    Overall: at most `capacity` sends in any `window` seconds (capacity = the rate, rounded
    down), and sends spaced `window / capacity` apart with a catch-up of a few sends after a
    late one. Per chat: sends spaced `1 / per_chat_rate` apart. All times are the caller's
    monotonic seconds, so the class runs on a fake clock in tests.
    """

    def __init__(self, rate: float, per_chat_rate: float, margin: float = 0.0) -> None:
        self.capacity = max(1, int(rate))
        self.window = self.capacity / rate + margin
        self.interval = self.window / self.capacity
        self.tolerance = self.interval * max(1, self.capacity // 100)
        self.chat_interval = 1.0 / per_chat_rate + margin
        self._log: deque[float] = deque(maxlen=self.capacity)
        self._tat: float | None = None
        self._chat_last: dict[int, float] = {}
        self._paused_until = -math.inf

    def ready_at(self) -> float:
        """The earliest time the next send (to any chat) may go."""
        at = self._paused_until
        if self._tat is not None:
            at = max(at, self._tat - self.tolerance)
        if len(self._log) == self.capacity:
            at = max(at, self._log[0] + self.window + 1e-9)  # strictly after the window closes
        return at

    def chat_ready_at(self, chat_id: int) -> float:
        last = self._chat_last.get(chat_id)
        return -math.inf if last is None else last + self.chat_interval

    def record(self, chat_id: int, now: float) -> None:
        """A send to `chat_id` goes now."""
        self._log.append(now)
        self._tat = max(self._tat if self._tat is not None else now, now) + self.interval
        self._chat_last[chat_id] = now
        if len(self._chat_last) > 50_000:
            horizon = now - self.chat_interval
            self._chat_last = {c: t for c, t in self._chat_last.items() if t > horizon}

    def pause(self, until: float) -> None:
        """Telegram said 429: nothing goes before `until`."""
        self._paused_until = max(self._paused_until, until)

    def sends_within(self, start: float, end: float) -> int:
        return sum(1 for t in self._log if start <= t < end)


def pacer_for(settings: Any) -> Pacer:
    return Pacer(
        settings.send_rate_per_second,
        settings.send_rate_per_chat_per_second,
        settings.send_window_margin_seconds,
    )


class SharedWindow(BaseRateLimiter[None]):
    """The application Bot's rate limiter: its messages take slots in the outbox's window.

    Without it the sender fills the whole window during a broadcast and any reply, prompt
    or progress message in the same second draws a 429 (and is lost: PTB does not retry
    it). A reply waits for the next free slot (one spacing interval, milliseconds, while a
    broadcast runs) and the outbox's next send moves back. Replies are not spaced per chat:
    Telegram tolerates a reply and a prompt in a row in a private chat; the outbox does wait
    a chat's interval after a reply to it.
    """

    def __init__(self, pacer: Pacer, timer: Timer | None = None) -> None:
        self.pacer = pacer
        self.timer: Timer = timer or RealTimer()

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        if endpoint in MESSAGE_METHODS and not _outbox_send.get():
            while (wait := self.pacer.ready_at() - self.timer.now()) > 0:
                await self.timer.sleep(wait)
            try:
                chat_id = int(data.get("chat_id"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                chat_id = 0
            self.pacer.record(chat_id, self.timer.now())
        return await callback(*args, **kwargs)


@dataclass
class Job:
    """One claimed outbox row, as the sender holds it in memory."""

    id: int
    chat_id: int
    method: str
    from_chat_id: int | None
    message_id: int | None
    text: str | None
    reply_markup: dict[str, Any] | None
    attempts: int
    broadcast_id: int | None
    recipient_id: int | None
    source: str
    claimed_until: datetime
    requeued: bool = False


@dataclass
class RunStats:
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    retried: int = 0
    rate_limited: int = 0
    released: int = 0
    claimed: int = 0

    @property
    def busy(self) -> bool:
        return bool(self.claimed or self.sent or self.failed or self.unreachable or self.retried)


@dataclass
class _Outcomes:
    sent: list[tuple[int, int | None, int]] = field(default_factory=list)
    failed: list[tuple[int, str, int]] = field(default_factory=list)
    unreachable: list[tuple[int, str, int]] = field(default_factory=list)
    unreachable_officials: list[int] = field(default_factory=list)
    retry: list[tuple[int, str, int, datetime]] = field(default_factory=list)
    release: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.sent)
            + len(self.failed)
            + len(self.unreachable)
            + len(self.retry)
            + len(self.release)
        )

    def take(self) -> _Outcomes:
        taken = _Outcomes(
            self.sent,
            self.failed,
            self.unreachable,
            self.unreachable_officials,
            self.retry,
            self.release,
        )
        self.sent, self.failed, self.unreachable = [], [], []
        self.unreachable_officials, self.retry, self.release = [], [], []
        return taken

    def put_back(self, other: _Outcomes) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.unreachable += other.unreachable
        self.unreachable_officials += other.unreachable_officials
        self.retry += other.retry
        self.release += other.release


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int now, timedelta in PTB's next major: accept both
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Sender:
    """Drains the outbox. One per process; `run_once` is called again and again by the job."""

    def __init__(
        self,
        deps: Deps,
        bot: Bot,
        *,
        worker: str = WORKER_ID,
        timer: Timer | None = None,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        s = deps.settings
        self.deps = deps
        self.bot = bot
        self.worker = worker
        self.timer: Timer = timer or RealTimer()
        self.rng = rng or random.Random()
        self.pacer = pacer or pacer_for(s)
        self.stopping = asyncio.Event()
        self.buffer: deque[Job] = deque()
        self.outcomes = _Outcomes()
        self.stats = RunStats()
        self._lease = timedelta(seconds=s.send_lease_seconds)
        self._lease_margin = timedelta(seconds=min(5.0, s.send_lease_seconds / 4))

    # ---- the loop ---------------------------------------------------------------------
    async def run_once(self, *, max_rows: int | None = None) -> RunStats:
        """Send every row due now (and those that fall due meanwhile), then return.

        `max_rows` stops claiming after that many rows (tests use it to stop half-way).
        """
        s = self.deps.settings
        self.stats = RunStats()
        batch = min(
            s.send_claim_batch,
            max(s.send_concurrency * 2, int(s.send_rate_per_second * s.send_lease_seconds / 4)),
        )
        low_water = max(s.send_concurrency * 4, batch // 2)
        slots = asyncio.Semaphore(s.send_concurrency)
        in_flight: set[asyncio.Task[None]] = set()
        claim_task: asyncio.Task[int] | None = None
        flush_task: asyncio.Task[None] | None = None
        exhausted = False
        claimed = 0
        last_flush = next_cancel_check = self.timer.now()

        def claim_size() -> int:
            return batch if max_rows is None else max(0, min(batch, max_rows - claimed))

        try:
            while not self.stopping.is_set():
                now = self.timer.now()
                if claim_task is not None and claim_task.done():
                    got = claim_task.result()
                    claimed += got
                    exhausted = exhausted or got == 0
                    claim_task = None
                if flush_task is not None and flush_task.done():
                    flush_task.result()
                    flush_task = None
                if (
                    flush_task is None
                    and self.outcomes
                    and (len(self.outcomes) >= FLUSH_ROWS or now - last_flush >= FLUSH_SECONDS)
                ):
                    flush_task = asyncio.create_task(self._flush())
                    last_flush = now
                if now >= next_cancel_check:
                    next_cancel_check = now + CANCEL_CHECK_SECONDS
                    await self._drop_cancelled()
                if not self.buffer:
                    if claim_task is not None:
                        await asyncio.wait([claim_task])
                        continue
                    if exhausted or claim_size() == 0:
                        break
                    got = await self._claim(claim_size())
                    claimed += got
                    if got == 0:
                        break
                    continue
                if (
                    claim_task is None
                    and not exhausted
                    and len(self.buffer) <= low_water
                    and claim_size() > 0
                ):
                    claim_task = asyncio.create_task(self._claim(claim_size()))

                job = self._pick(now)
                if job is None:
                    wait = (
                        min(
                            self.pacer.chat_ready_at(j.chat_id)
                            for j in list(self.buffer)[:LOOKAHEAD]
                        )
                        - now
                    )
                    await self.timer.sleep(max(wait, 0.001))
                    continue
                await slots.acquire()
                while (wait := self.pacer.ready_at() - self.timer.now()) > 0:
                    await self.timer.sleep(wait)
                if self.stopping.is_set():
                    slots.release()
                    self.buffer.appendleft(job)
                    break
                if job.claimed_until - self._lease_margin <= self.deps.clock.now():
                    # Another worker may take it soon; sending it now could send it twice.
                    slots.release()
                    self.outcomes.release.append(job.id)
                    self.stats.released += 1
                    continue
                self.pacer.record(job.chat_id, self.timer.now())
                task = asyncio.create_task(self._send(job))
                in_flight.add(task)

                def done(t: asyncio.Task[None]) -> None:
                    in_flight.discard(t)
                    slots.release()

                task.add_done_callback(done)
                if not self.buffer and in_flight:
                    # A 429 or a "not sent" timeout puts a job back: wait for the answers first.
                    await asyncio.wait(set(in_flight))
        finally:
            if in_flight:
                await asyncio.wait(set(in_flight))
            if claim_task is not None:
                await asyncio.wait([claim_task])
                if not claim_task.cancelled() and claim_task.exception() is None:
                    claimed += claim_task.result()
            if flush_task is not None:
                await asyncio.wait([flush_task])
            while self.buffer:
                self.outcomes.release.append(self.buffer.popleft().id)
                self.stats.released += 1
            await self._flush()
        self.stats.claimed = claimed
        if self.stats.busy:
            st = self.stats
            log.info(
                "outbox run worker=%s claimed=%s sent=%s failed=%s unreachable=%s retried=%s "
                "rate_limited=%s released=%s",
                self.worker,
                st.claimed,
                st.sent,
                st.failed,
                st.unreachable,
                st.retried,
                st.rate_limited,
                st.released,
            )
        return self.stats

    def _pick(self, now: float) -> Job | None:
        for i, job in enumerate(self.buffer):
            if i >= LOOKAHEAD:
                break
            if self.pacer.chat_ready_at(job.chat_id) <= now:
                del self.buffer[i]
                return job
        return None

    # ---- one send -----------------------------------------------------------------------
    async def _send(self, job: Job) -> None:
        _outbox_send.set(True)  # this task's context only
        attempts = job.attempts + 1
        try:
            markup = (
                InlineKeyboardMarkup.de_json(job.reply_markup, self.bot)
                if job.reply_markup
                else None
            )
            if job.method == "copy":
                assert job.from_chat_id is not None and job.message_id is not None
                result = await self.bot.copy_message(
                    job.chat_id, job.from_chat_id, job.message_id, reply_markup=markup
                )
            else:
                result = await self.bot.send_message(
                    job.chat_id,
                    job.text or "",
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
        except RetryAfter as exc:
            pause = retry_after_seconds(exc)
            self.pacer.pause(self.timer.now() + pause)
            self.buffer.appendleft(job)
            self.stats.rate_limited += 1
            log.warning("outbox rate limited delivery_id=%s retry_after=%s", job.id, pause)
        except Forbidden as exc:
            self.outcomes.unreachable.append((job.id, str(exc), attempts))
            if job.recipient_id is not None:
                self.outcomes.unreachable_officials.append(job.recipient_id)
            self.stats.unreachable += 1
            log.info("outbox unreachable delivery_id=%s chat_id=%s", job.id, job.chat_id)
        except InvalidToken as exc:
            log.error("outbox token refused delivery_id=%s error=%s", job.id, exc)
            self.stopping.set()
            self.outcomes.release.append(job.id)
        except (BadRequest, ChatMigrated) as exc:
            self.outcomes.failed.append((job.id, str(exc), attempts))
            self.stats.failed += 1
            log.info("outbox failed delivery_id=%s chat_id=%s error=%s", job.id, job.chat_id, exc)
        except TimedOut as exc:
            if "not* sent" in str(exc) and not job.requeued:
                job.requeued = True  # the request never left: try again now, no attempt used
                self.buffer.append(job)
            else:
                self._retry(job, attempts, f"timeout: {exc}")
        except (NetworkError, TelegramError) as exc:
            self._retry(job, attempts, str(exc))
        except Exception as exc:  # a bug must not lose the row: it is retried, then failed
            log.exception("outbox unexpected error delivery_id=%s", job.id)
            self._retry(job, attempts, repr(exc))
        else:
            mid = getattr(result, "message_id", None)
            self.outcomes.sent.append((job.id, mid, attempts))
            self.stats.sent += 1

    def _retry(self, job: Job, attempts: int, error: str) -> None:
        s = self.deps.settings
        if attempts >= s.send_max_attempts:
            self.outcomes.failed.append((job.id, error, attempts))
            self.stats.failed += 1
            log.info("outbox gave up delivery_id=%s attempts=%s error=%s", job.id, attempts, error)
            return
        delay = backoff(attempts, s.send_backoff_base_seconds, s.send_backoff_max_seconds, self.rng)
        self.outcomes.retry.append(
            (job.id, error, attempts, self.deps.clock.now() + timedelta(seconds=delay))
        )
        self.stats.retried += 1
        log.info(
            "outbox retry delivery_id=%s attempts=%s in_seconds=%.1f error=%s",
            job.id,
            attempts,
            delay,
            error,
        )

    # ---- the database -------------------------------------------------------------------
    async def _claim(self, limit: int) -> int:
        if limit <= 0:
            return 0
        now = self.deps.clock.now()
        until = now + self._lease
        async with self.deps.db.transaction() as session:
            rows = await outbox.claim(session, self.worker, now, until, limit)
        self.buffer.extend(Job(**row, claimed_until=until) for row in rows)
        return len(rows)

    async def _flush(self) -> None:
        batch = self.outcomes.take()
        if not batch:
            return
        now = self.deps.clock.now()
        try:
            async with self.deps.db.transaction() as session:
                await outbox.record_sent(session, batch.sent, now)
                await outbox.record_final(session, DeliveryStatus.FAILED, batch.failed)
                await outbox.record_final(session, DeliveryStatus.UNREACHABLE, batch.unreachable)
                await outbox.mark_unreachable(session, batch.unreachable_officials, now)
                await outbox.record_retry(session, batch.retry)
                await outbox.release(session, batch.release, self.worker)
        except Exception:
            log.exception("outbox could not record outcomes rows=%s; will try again", len(batch))
            self.outcomes.put_back(batch)
            if self.stopping.is_set():
                raise

    async def _drop_cancelled(self) -> None:
        ids = {j.broadcast_id for j in self.buffer if j.broadcast_id is not None}
        if not ids:
            return
        async with self.deps.db.transaction() as session:
            cancelled = await outbox.cancelled_broadcasts(session, ids)
        if not cancelled:
            return
        keep: deque[Job] = deque()
        for job in self.buffer:
            if job.broadcast_id in cancelled:
                self.outcomes.release.append(job.id)
                self.stats.released += 1
            else:
                keep.append(job)
        self.buffer = keep


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: between half and all of base·2^(attempt-1), capped."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)


# ---- a faster HTTP client for the outbox ------------------------------------------------


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
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector)

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
        if self._session is None:
            await self.initialize()
        assert self._session is not None

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
            async with self._session.request(method, url, data=data, timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as exc:
            raise TimedOut(f"Timed out: {exc!r}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TimedOut("Connection failed. Request was *not* sent to Telegram.") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp error: {exc!r}") from exc


# ---- wiring into the application ----------------------------------------------------------


async def start(app: Any) -> None:
    """Give the outbox its own Bot (faster transport unless configured otherwise)."""
    deps: Deps = app.bot_data.deps
    s = deps.settings
    own = s.send_transport == "aiohttp"
    bot: Bot = app.bot
    if own:
        bot = Bot(
            s.require_token(),
            base_url=s.api_base,
            base_file_url=s.file_base,
            request=AiohttpRequest(connections=max(8, s.send_concurrency * 2)),
        )
        await bot.initialize()
    limiter = getattr(app.bot, "rate_limiter", None)
    pacer = limiter.pacer if isinstance(limiter, SharedWindow) else None
    app.bot_data.outbox = Outbox(Sender(deps, bot, pacer=pacer), bot if own else None)


async def stop(app: Any) -> None:
    outbox_: Outbox | None = getattr(app.bot_data, "outbox", None)
    if outbox_ is None:
        return
    outbox_.sender.stopping.set()
    if outbox_.running is not None:
        try:
            await asyncio.wait_for(asyncio.shield(outbox_.running), timeout=10)
        except (TimeoutError, Exception):
            log.warning("outbox did not stop cleanly worker=%s", outbox_.sender.worker)
    if outbox_.own_bot is not None:
        await outbox_.own_bot.shutdown()
    app.bot_data.outbox = None


@dataclass
class Outbox:
    sender: Sender
    own_bot: Bot | None
    running: asyncio.Future[RunStats] | None = None


async def job(app: Any) -> None:
    """The scheduler's outbox job: drain what is due; the next tick comes back for more."""
    outbox_: Outbox | None = getattr(app.bot_data, "outbox", None)
    if outbox_ is None or outbox_.sender.stopping.is_set():
        return
    outbox_.running = asyncio.ensure_future(outbox_.sender.run_once())
    try:
        # Shielded: a cancelled job must not cancel a pass in the middle of its transaction.
        await asyncio.shield(outbox_.running)
    finally:
        outbox_.running = None


async def run_once(deps: Deps, bot: Bot, **kwargs: Any) -> RunStats:
    """One pass with a fresh sender (tests, benchmarks)."""
    timer = kwargs.pop("timer", None)
    worker = kwargs.pop("worker", WORKER_ID)
    return await Sender(deps, bot, worker=worker, timer=timer).run_once(**kwargs)
