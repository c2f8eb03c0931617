"""`derive_id` (rewritten for the backtest's speed) still gives the UUIDv5 of its parts.

Every event id, client order id and signal id of a run comes from it; ids stored by earlier
runs must stay the same, so it must equal `uuid.uuid5` for any text, bit for bit.
"""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from atp.core.ids import Symbol, client_order_id_for, derive_id, signal_id_for

NAMESPACE = uuid.UUID("6f1c2b1e-8d0a-5a53-9b0e-2f4b7a7e1c11")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(), max_size=5))
def test_derive_id_is_the_uuid5_of_its_joined_parts(parts: list[str]) -> None:
    expected = uuid.uuid5(NAMESPACE, "\x1f".join(parts))
    assert derive_id(*parts) == str(expected)
    assert uuid.UUID(derive_id(*parts)).version == 5


def test_known_ids_are_unchanged() -> None:
    signal = signal_id_for(Symbol("AAPL"), "1d", "2024-01-02T05:00:00+00:00")
    assert signal == str(uuid.uuid5(NAMESPACE, "signal\x1fAAPL\x1f1d\x1f2024-01-02T05:00:00+00:00"))
    order = client_order_id_for("d-1")
    assert order == "atp-" + str(uuid.uuid5(NAMESPACE, "order\x1fd-1"))[:30]


def test_the_shared_namespace_hash_is_never_consumed() -> None:
    # derive_id copies one pre-hashed namespace: ids made in between must not change it.
    first = derive_id("decision", "AAPL", "s-1")
    for n in range(50):
        derive_id("fill", "paper", f"c-{n}", "x" * n)
    assert derive_id("decision", "AAPL", "s-1") == first
    assert first == str(uuid.uuid5(NAMESPACE, "decision\x1fAAPL\x1fs-1"))
