"""The outbox sender: claim due delivery rows, send them at Telegram's pace, record the outcome.

One sender carries everything mass-sent (broadcasts with copyMessage, or a translation; reminders,
nudges and digests as pre-rendered text; the call itself is in send_call.py). Its rules, from
measurements on this machine (DESIGN.md):

- pacing is a strict window: never more than `send_rate_per_second` sends in any one-second
  window (a sliding log of the last sends) and an even spacing between them, so there is no
  burst at the start or after a pause; each chat gets at most `send_rate_per_chat_per_second`;
- a small number of sends waits for a prompt answer (`send_concurrency`), never thousands in
  an HTTP pool; a send whose answer is slow (a timeout can take seconds) gives its slot to
  the next, so the pacing, not the slots, sets the rate, up to `send_max_in_flight` waiting;
- 429 pauses every send for `retry_after`, and the row goes again without counting an attempt;
  5xx and timeouts come back after an exponential backoff with jitter, up to
  `send_max_attempts`; 400 fails the row; 403 marks the row and the official unreachable;
- the bot's own replies (and the progress messages) share the window: in the process that
  runs the sender they pass through `SharedWindow`, which takes the next free slot for them;
  replicas on PostgreSQL take their slots from one row (bot/telegram_io/shared_pace.py);
- the database decides who sends what: rows are leased (`claimed_until`/`claimed_by`, a
  token per claim) in short transactions with `FOR UPDATE SKIP LOCKED`; the lease is renewed
  while the sender holds the rows, outcomes are written every ~0.1 s by the claim they belong
  to only, and a row whose lease is about to run out (renewals failing) is given back instead
  of sent (bot/telegram_io/claims.py). A killed process re-sends at most what was in flight or
  sent-but-not-yet-written when it died.

It is not a service (it imports telegram); `bot.telegram_io.outbox_runner.start` gives the
process its sender and `bot.scheduling` runs it as a job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections import deque
from datetime import timedelta

from telegram import Bot, Message, MessageId
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

from bot.db import outbox, outbox_cancel
from bot.db.models import DeliveryStatus
from bot.runtime import Deps
from bot.telegram_io.claims import Claims
from bot.telegram_io.pacing import Pacer, RealTimer, Timer, outbox_send, pacer_for
from bot.telegram_io.send_call import send_job
from bot.telegram_io.send_outcomes import (
    InFlight,
    Job,
    Outcomes,
    RunStats,
    backoff,
    retry_after_seconds,
)
from bot.telegram_io.shared_pace import SharedPace, take_turn

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"
FLUSH_SECONDS = 0.1
FLUSH_ROWS = 100
CANCEL_CHECK_SECONDS = 0.5
LOOKAHEAD = 64  # rows scanned for one whose chat may receive now


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
        # Replicas on PostgreSQL (`use_shared`): one limit for all, a chat claimed by one.
        self.shared: SharedPace | None = None
        self.chat_gap: timedelta | None = None
        self.stopping = asyncio.Event()
        self.buffer: deque[Job] = deque()
        self.outcomes = Outcomes()
        self.stats = RunStats()
        self.claims = Claims(deps, worker)
        self._lease_margin = timedelta(seconds=min(5.0, s.send_lease_seconds / 4))
        self._renewing: asyncio.Task[None] | None = None

    def use_shared(self, shared: SharedPace) -> None:
        self.shared = shared
        self.chat_gap = timedelta(seconds=self.pacer.chat_interval)

    async def start(self) -> None:
        """For the life of the process: take back dead predecessors' claims, renew ours."""
        await self.claims.register()
        self._renewing = self.claims.keep(self._drop)

    async def close(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
            self._renewing = None
        await self.claims.unregister()

    def _drop(self, gone: set[int]) -> None:
        """Rows no longer ours (cancelled, or taken by another sender) are not sent from here."""
        dropped = {j.id: j.claim_token for j in self.buffer if j.id in gone}
        self.buffer = deque(j for j in self.buffer if j.id not in dropped)
        self.claims.settled(dropped)

    # ---- the loop ---------------------------------------------------------------------
    async def run_once(self, *, max_rows: int | None = None) -> RunStats:
        """Send every row due now (and those that fall due meanwhile), then return.

        `max_rows` stops claiming after that many rows (tests use it to stop half-way).
        """
        s = self.deps.settings
        self.stats = RunStats()
        batch = min(
            s.send_claim_batch, max(8, int(s.send_rate_per_second * s.send_lease_seconds / 4))
        )
        low_water = max(8, batch // 2)
        in_flight = InFlight(s.send_concurrency, s.send_max_in_flight, s.send_rate_per_second)
        claim_task: asyncio.Task[int] | None = None
        flush_task: asyncio.Task[None] | None = None
        exhausted = False
        claimed = 0
        last_flush = next_cancel_check = self.timer.now()
        renewing = None if self._renewing else self.claims.keep(self._drop)

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
                    if not exhausted and claim_size() > 0:
                        got = await self._claim(claim_size())
                        claimed += got
                        exhausted = got == 0
                        if got:
                            continue
                    if not in_flight:
                        break
                    # Answers still to come may put a row back (429, "not sent"), and rows may
                    # fall due meanwhile: look again at the first answer or after a poll.
                    await in_flight.wait(s.send_poll_seconds)
                    exhausted = False
                    continue
                if (
                    claim_task is None
                    and not exhausted
                    and len(self.buffer) <= low_water
                    and claim_size() > 0
                ):
                    claim_task = asyncio.create_task(self._claim(claim_size()))
                if (busy := in_flight.full_for()) > 0:
                    await in_flight.wait(busy)
                    continue

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
                await take_turn(self.pacer, self.shared, self.timer)
                if self.stopping.is_set():
                    self.buffer.appendleft(job)
                    break
                if job.claimed_until - self._lease_margin <= self.deps.clock.now():
                    # Another worker may take it soon; sending it now could send it twice.
                    self.outcomes.release.append(job.id)
                    self.stats.released += 1
                    continue
                self.pacer.record(job.chat_id, self.timer.now())
                task = asyncio.create_task(self._send(job))
                in_flight.add(task)
        finally:
            await in_flight.wait_all()
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
            if renewing is not None:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
        self.stats.claimed = claimed
        if self.stats.busy:
            st = self.stats
            log.info(
                "outbox run worker=%s claimed=%s sent=%s failed=%s unreachable=%s retried=%s "
                "rate_limited=%s released=%s lost=%s",
                self.worker,
                st.claimed,
                st.sent,
                st.failed,
                st.unreachable,
                st.retried,
                st.rate_limited,
                st.released,
                st.lost,
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
        outbox_send.set(True)  # this task's context only
        attempts = job.attempts + 1
        result: Message | MessageId
        try:
            result = await send_job(self.bot, job)
        except RetryAfter as exc:
            pause = retry_after_seconds(exc)
            self.pacer.pause(self.timer.now() + pause)
            if self.shared is not None:
                await self.shared.pause(pause)
            self.buffer.appendleft(job)
            self.stats.add("rate_limited")
            log.warning("outbox rate limited delivery_id=%s retry_after=%s", job.id, pause)
        except Forbidden as exc:
            self.outcomes.unreachable.append((job.id, str(exc), attempts))
            if job.recipient_id is not None:
                self.outcomes.unreachable_officials.append(job.recipient_id)
            self.stats.add("unreachable")
            log.info("outbox unreachable delivery_id=%s chat_id=%s", job.id, job.chat_id)
        except InvalidToken as exc:
            log.error("outbox token refused delivery_id=%s error=%s", job.id, exc)
            self.stopping.set()
            self.outcomes.release.append(job.id)
        except (BadRequest, ChatMigrated) as exc:
            self.outcomes.failed.append((job.id, str(exc), attempts))
            self.stats.add("failed")
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
            self.stats.add("sent")
        finally:
            # The chat's next send counts from the answer, not from the start of this one:
            # the request may reach Telegram late, and the next one early.
            self.pacer.answered(job.chat_id, self.timer.now())

    def _retry(self, job: Job, attempts: int, error: str) -> None:
        s = self.deps.settings
        if attempts >= s.send_max_attempts:
            self.outcomes.failed.append((job.id, error, attempts))
            self.stats.add("failed")
            log.info("outbox gave up delivery_id=%s attempts=%s error=%s", job.id, attempts, error)
            return
        delay = backoff(attempts, s.send_backoff_base_seconds, s.send_backoff_max_seconds, self.rng)
        self.outcomes.retry.append(
            (job.id, error, attempts, self.deps.clock.now() + timedelta(seconds=delay))
        )
        self.stats.add("retried")
        log.info(
            "outbox retry delivery_id=%s attempts=%s in_seconds=%.1f error=%s",
            job.id,
            attempts,
            delay,
            error,
        )

    # ---- the database -------------------------------------------------------------------
    async def _claim(self, limit: int) -> int:
        jobs = await self.claims.claim(limit, self.chat_gap) if limit > 0 else []
        self.buffer.extend(jobs)
        return len(jobs)

    async def _flush(self) -> None:
        batch = self.outcomes.take()
        if not batch:
            return
        now = self.deps.clock.now()
        tokens = self.claims.tokens(batch.ids())
        claim = (self.worker, tokens)
        try:
            async with self.claims.writing, self.deps.db.transaction() as session:
                held = await self.claims.still_ours(session, tokens, now)
                mine = batch.only(held)
                await outbox.record_sent(session, claim, mine.sent, now)
                await outbox.record_final(session, claim, DeliveryStatus.FAILED, mine.failed)
                await outbox.record_final(
                    session, claim, DeliveryStatus.UNREACHABLE, mine.unreachable
                )
                await outbox.mark_unreachable(session, batch.unreachable_officials, now)
                await outbox.record_retry(session, claim, mine.retry)
                await outbox.release(session, mine.release, self.worker)
        except Exception:
            log.exception("outbox could not record outcomes rows=%s; will try again", len(batch))
            self.outcomes.put_back(batch)
            if self.stopping.is_set():
                raise
            return
        self.claims.settled(tokens)
        lost = [i for i in batch.ids() if i not in held]
        if lost:
            self.stats.lost += len(lost)
            log.warning(
                "outbox claim lost before its outcome was written worker=%s delivery_ids=%s",
                self.worker,
                ",".join(map(str, lost[:20])),
            )

    async def _drop_cancelled(self) -> None:
        ids = {j.broadcast_id for j in self.buffer if j.broadcast_id is not None}
        if not ids:
            return
        async with self.deps.db.transaction() as session:
            cancelled = await outbox_cancel.cancelled_broadcasts(session, ids)
        dropped = [j.id for j in self.buffer if j.broadcast_id in cancelled]
        self.buffer = deque(j for j in self.buffer if j.broadcast_id not in cancelled)
        self.outcomes.release += dropped
        self.stats.released += len(dropped)
