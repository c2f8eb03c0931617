"""Bearer-token auth for mutating endpoints.

With no `ATP_API_TOKEN` (allowed only on loopback) every request passes. With one, a mutating
endpoint needs `Authorization: Bearer <token>`, compared in constant time. A configured token
must pass `atp.core.tokens.check_api_token` (applied at start: at least 16 characters, no white
space): an empty one would otherwise match an empty `Bearer ` header. The token is never
logged; the audit trail records only a fingerprint of it.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request


def _configured_token(request: Request) -> str | None:
    token: str | None = getattr(request.app.state, "api_token", None)
    return token


def require_token(request: Request) -> None:
    """FastAPI dependency: refuses a mutating request without the configured bearer token."""
    expected = _configured_token(request)
    if expected is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    presented = presented.strip()
    # Both sides are compared whatever they hold (constant time); an empty token never matches.
    matches = hmac.compare_digest(presented.encode(), expected.encode())
    if scheme.lower() != "bearer" or not presented or not expected or not matches:
        raise HTTPException(
            status_code=401,
            detail="a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


def actor_of(request: Request) -> str:
    """Who made a request, for the audit trail: a token fingerprint or the client address."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() == "bearer" and presented:
        digest = hashlib.sha256(presented.strip().encode()).hexdigest()[:12]
        return f"token:{digest}"
    client = request.client
    return f"addr:{client.host}" if client is not None else "addr:unknown"
