"""The chain's pure rules: scrubbing keeps no secret, hashes depend on every field and link."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from atp.storage.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    canonical_json,
    entry_hash,
    fingerprint,
    hashed_fields,
    refs_of,
    scrub,
)

SECRET_KEYS = st.sampled_from(
    [
        "authorization",
        "Authorization",
        "api_token",
        "token",
        "client_secret",
        "password",
        "X-Api-Key",
        "cookie",
    ]
)
# "zq" occurs in no key name and no hex fingerprint, so finding the secret in the text can only
# mean it leaked (a bare "paramete" would match the key "parameters").
SECRETS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=38).map(
    lambda tail: f"zq{tail}"
)
PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["buy", "AAPL", "halt"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["symbol", "limit", "reason"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(key=SECRET_KEYS, secret=SECRETS, other=PLAIN, nested=st.booleans())
def test_scrubbed_documents_never_contain_the_secret(
    key: str, secret: str, other: object, nested: bool
) -> None:
    document: dict[str, object] = {key: f"Bearer {secret}", "other": other}
    if nested:
        document = {"parameters": [document], "note": f"bearer {secret}"}

    text = canonical_json(scrub(document))

    assert secret not in text
    assert fingerprint(secret) in text


def test_scrubbing_keeps_everything_that_is_not_a_secret() -> None:
    document = {"symbol": "AAPL", "limit": "500", "engaged": True, "idempotency": None}

    assert scrub(document) == document


def test_canonical_json_does_not_depend_on_key_order() -> None:
    assert canonical_json({"b": 1, "a": [2, {"d": 3, "c": 4}]}) == canonical_json(
        {"a": [2, {"c": 4, "d": 3}], "b": 1}
    )


def test_refs_cover_every_voting_agent_and_both_order_ids() -> None:
    refs = refs_of(
        {
            "symbol": "AAPL",
            "votes": [{"agent_id": "a1"}, {"agent_id": "a2"}],
            "client_order_id": "atp-1",
            "order_id": "venue-9",
            "decision_id": "d-1",
        }
    )

    assert refs.pairs() == [
        ("agent", "a1"),
        ("agent", "a2"),
        ("order", "atp-1"),
        ("order", "venue-9"),
        ("symbol", "AAPL"),
    ]
    assert (refs.symbol, refs.order_ref, refs.decision_id) == ("AAPL", "atp-1", "d-1")


def _entry() -> AuditEntry:
    moment = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    fields = {
        "sequence": 1,
        "recorded_at": moment,
        "event_time": moment,
        "kind": "risk.violations",
        "source": "meta-agent",
        "event_id": "e-1",
        "correlation_id": "e-1",
        "causation_id": None,
        "symbol": "AAPL",
        "agent_id": None,
        "order_ref": None,
        "decision_id": None,
        "content": '{"payload":{}}',
        "prev_hash": GENESIS_HASH,
    }
    provisional = AuditEntry(**fields, hash="")
    return dataclasses.replace(
        provisional, hash=entry_hash(GENESIS_HASH, hashed_fields(provisional))
    )


@given(field=st.sampled_from(["kind", "source", "event_id", "symbol", "content", "prev_hash"]))
def test_changing_any_field_or_link_changes_the_hash(field: str) -> None:
    entry = _entry()
    tampered = dataclasses.replace(entry, **{field: "tampered"})

    assert entry.computed_hash() == entry.hash
    assert tampered.computed_hash() != entry.hash
