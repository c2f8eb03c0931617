"""One-shot reads of what JetStream holds, for services rebuilding their state on start.

`latest_signals` answers "what was the last price of each symbol?" after a restart: a durable
marks consumer resumes after its last ack, so the bars it saw before the restart are not
delivered again, yet the last one of each symbol is the market price the service must know.
It reads only the tail of the signals stream (an ephemeral consumer that leaves nothing behind).
"""

from __future__ import annotations

import logging

import nats
import nats.errors
import nats.js.errors
from nats.js import api

from atp.bus import codec
from atp.bus.subjects import SIGNALS_NORMALIZED, stream_for
from atp.core.errors import VenueUnavailable
from atp.core.events import MarketSignal
from atp.core.ids import Symbol

log = logging.getLogger(__name__)


async def latest_signals(
    servers: str, *, tail: int = 10_000, timeout_seconds: float = 5.0
) -> dict[Symbol, MarketSignal]:
    """The newest stored bar of each symbol among the last `tail` signals on JetStream.

    Raises:
        VenueUnavailable: NATS could not be reached or stopped answering mid-read.
    """
    urls = [url.strip() for url in servers.split(",") if url.strip()]
    try:
        client = await nats.connect(
            servers=urls, name="latest-signals", connect_timeout=timeout_seconds,
            allow_reconnect=False,
        )  # fmt: skip
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        raise VenueUnavailable(f"cannot reach NATS at {servers}: {exc!r}") from exc
    latest: dict[Symbol, MarketSignal] = {}
    try:
        js = client.jetstream()
        stream = stream_for(SIGNALS_NORMALIZED)
        try:
            info = await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            return latest
        if info.state.messages == 0:
            return latest
        start = max(info.state.first_seq, info.state.last_seq - tail + 1)
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=30.0,
            filter_subject=SIGNALS_NORMALIZED,
        )
        pull = await js.pull_subscribe(SIGNALS_NORMALIZED, stream=stream, config=config)
        try:
            while True:
                try:
                    messages = await pull.fetch(500, timeout=timeout_seconds)
                except (TimeoutError, nats.errors.TimeoutError):
                    break
                for message in messages:
                    try:
                        signal: MarketSignal = codec.decode(message.data).payload
                    except codec.WireError as exc:
                        log.warning("skipping an undecodable signal: %s", exc.reason)
                        continue
                    known = latest.get(signal.symbol)
                    if known is None or signal.timestamp >= known.timestamp:
                        latest[signal.symbol] = signal
                if not messages or messages[-1].metadata.num_pending == 0:
                    break
        finally:
            await pull.unsubscribe()
    except (TimeoutError, nats.errors.Error) as exc:
        raise VenueUnavailable(f"reading {SIGNALS_NORMALIZED} failed: {exc!r}") from exc
    finally:
        await client.close()
    return latest
