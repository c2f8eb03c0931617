"""The audit chain's pure rules: canonical JSON, secret scrubbing, query references, hashing.

Each entry's hash is `sha256(prev_hash + canonical(entry fields))`, so changing any recorded
field, removing an entry or moving one breaks the chain from that entry on. Canonical JSON is
sorted keys, no whitespace, UTF-8: the same content always hashes the same on every database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
SCRUBBED_PREFIX = "sha256:"

# Field names whose values are secrets: kept only as a fingerprint.
_SECRET_MARKERS = ("authorization", "token", "secret", "password", "api_key", "apikey", "cookie")


def canonical_json(value: Any) -> str:
    """Serialises JSON-ready `value` canonically (sorted keys, compact, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(secret: str) -> str:
    """A short, non-reversible fingerprint of a secret, enough to tell two tokens apart."""
    return SCRUBBED_PREFIX + hashlib.sha256(secret.encode()).hexdigest()[:12]


def _is_secret_key(key: str) -> bool:
    lowered = key.lower().replace("-", "_")
    return any(marker in lowered for marker in _SECRET_MARKERS)


def scrub(value: Any) -> Any:
    """Returns `value` with every secret replaced by its fingerprint.

    A value is secret when its key names one (authorization, token, secret, password, api key,
    cookie) or when it is a string that looks like a bearer credential.
    """
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            if _is_secret_key(str(key)) and isinstance(item, str) and item:
                cleaned[str(key)] = (
                    item if item.startswith(SCRUBBED_PREFIX) else fingerprint(_bare(item))
                )
            elif _is_secret_key(str(key)) and item is not None and not isinstance(item, bool):
                cleaned[str(key)] = fingerprint(canonical_json(item))
            else:
                cleaned[str(key)] = scrub(item)
        return cleaned
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str) and value.lower().startswith("bearer "):
        return fingerprint(_bare(value))
    return value


def _bare(credential: str) -> str:
    scheme, _, rest = credential.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else credential


@dataclass(frozen=True, slots=True)
class EntryRefs:
    """What an entry can be found by: its symbols, agents and orders."""

    symbol: str | None = None
    agent_id: str | None = None
    order_ref: str | None = None
    decision_id: str | None = None
    symbols: frozenset[str] = field(default_factory=frozenset)
    agents: frozenset[str] = field(default_factory=frozenset)
    orders: frozenset[str] = field(default_factory=frozenset)

    def pairs(self) -> list[tuple[str, str]]:
        """The (kind, value) rows of the reference index, in a stable order."""
        rows = [("symbol", s) for s in self.symbols]
        rows += [("agent", a) for a in self.agents]
        rows += [("order", o) for o in self.orders]
        return sorted(rows)


def refs_of(payload: Mapping[str, Any]) -> EntryRefs:
    """Reads the query references from a wire-form payload, whatever its subject.

    Works by field name (`symbol`, `symbols`, `agent_id`, `votes[].agent_id`, `client_order_id`,
    `order_id`, `decision_id`, `actor`) so a subject added later is indexed without changes here.
    """
    symbol = _text(payload.get("symbol"))
    symbols = {symbol} if symbol else set()
    symbols |= {s for s in payload.get("symbols") or () if isinstance(s, str)}
    agent_id = _text(payload.get("agent_id"))
    agents = {agent_id} if agent_id else set()
    for vote in payload.get("votes") or ():
        if isinstance(vote, Mapping) and _text(vote.get("agent_id")):
            agents.add(str(vote["agent_id"]))
    actor = _text(payload.get("actor"))
    if actor:
        agents.add(actor)
    order_ref = _text(payload.get("client_order_id"))
    orders = {o for o in (order_ref, _text(payload.get("order_id"))) if o}
    return EntryRefs(
        symbol=symbol or (sorted(symbols)[0] if len(symbols) == 1 else None),
        agent_id=agent_id or actor,
        order_ref=order_ref or _text(payload.get("order_id")),
        decision_id=_text(payload.get("decision_id")),
        symbols=frozenset(symbols),
        agents=frozenset(agents),
        orders=frozenset(orders),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded link of the chain, as stored."""

    sequence: int
    recorded_at: datetime
    event_time: datetime
    kind: str
    source: str
    event_id: str
    correlation_id: str | None
    causation_id: str | None
    symbol: str | None
    agent_id: str | None
    order_ref: str | None
    decision_id: str | None
    content: str
    prev_hash: str
    hash: str

    @property
    def document(self) -> dict[str, Any]:
        """The recorded event (envelope and payload, secrets scrubbed) as JSON-ready data."""
        loaded: dict[str, Any] = json.loads(self.content)
        return loaded

    def computed_hash(self) -> str:
        """The hash this entry must have given its fields and its `prev_hash`."""
        return entry_hash(self.prev_hash, hashed_fields(self))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    """Every field of an entry that its hash covers (all but the hashes themselves)."""
    return {
        "sequence": entry.sequence,
        "recorded_at": _iso(entry.recorded_at),
        "event_time": _iso(entry.event_time),
        "kind": entry.kind,
        "source": entry.source,
        "event_id": entry.event_id,
        "correlation_id": entry.correlation_id,
        "causation_id": entry.causation_id,
        "symbol": entry.symbol,
        "agent_id": entry.agent_id,
        "order_ref": entry.order_ref,
        "decision_id": entry.decision_id,
        "content": entry.content,
    }


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """sha256 over the previous hash followed by the canonical JSON of the entry's fields."""
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()
