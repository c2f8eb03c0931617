"""The NATS bus refuses names the server would reject, before it asks the server anything."""

from __future__ import annotations

import pytest

from atp.bus.nats_streams import checked_rpc_subject, checked_stream, consumer_name
from atp.bus.subjects import DECISIONS_META, DECISIONS_ORDER_INTENT, RPC_RISK_CHECK
from atp.core.errors import InvalidInput


@pytest.mark.parametrize("durable", ["meta.agent", "meta agent", "meta*", "meta>", "a/b", ""])
def test_durable_names_the_server_would_reject_are_refused_with_the_name(durable: str) -> None:
    with pytest.raises(InvalidInput, match="durable name") as caught:
        consumer_name(DECISIONS_META, durable)

    assert repr(durable) in str(caught.value)


def test_one_durable_on_two_subjects_of_one_stream_gets_two_consumers() -> None:
    # decisions.meta and decisions.order_intent share the DECISIONS stream, where consumer
    # names are unique: a service subscribing to both under one durable needs two consumers.
    on_meta = consumer_name(DECISIONS_META, "storage")
    on_intents = consumer_name(DECISIONS_ORDER_INTENT, "storage")

    assert on_meta != on_intents
    assert consumer_name(DECISIONS_META, "storage") == on_meta
    assert "." not in on_meta + on_intents


@pytest.mark.parametrize("subject", ["decisions.>", "signals.*", "orders.new", RPC_RISK_CHECK])
def test_only_concrete_stored_subjects_can_be_subscribed(subject: str) -> None:
    with pytest.raises(InvalidInput, match="subject"):
        checked_stream(subject)


def test_a_stored_subject_names_its_stream() -> None:
    assert checked_stream(DECISIONS_META) == "DECISIONS"


@pytest.mark.parametrize("subject", [DECISIONS_META, "rpc.>", "rpc.risk.*", "risk.check"])
def test_requests_outside_concrete_rpc_subjects_are_refused(subject: str) -> None:
    # A request on a stored subject would be captured, and acknowledged, by JetStream.
    with pytest.raises(InvalidInput, match="rpc"):
        checked_rpc_subject(subject)


def test_the_risk_check_subject_is_a_valid_rpc_subject() -> None:
    assert checked_rpc_subject(RPC_RISK_CHECK) == RPC_RISK_CHECK
