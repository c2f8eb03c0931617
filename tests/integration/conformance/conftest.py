"""Fixtures of the conformance suite: the storage suite's databases, a fresh nats-server each."""

from __future__ import annotations

from tests.integration.storage.conftest import database_url, postgres_url

__all__ = ["database_url", "postgres_url"]
