"""Bearer-token auth for mutating endpoints.

With no `ATP_API_TOKEN` (allowed only on loopback) every request passes. With one, a mutating
endpoint needs `Authorization: Bearer <token>`, compared in constant time. A configured token
must be at least `MIN_TOKEN_LENGTH` characters without white space (`check_api_token`, applied
at start): an empty one would otherwise match an empty `Bearer ` header. The token is never
logged; the audit trail records only a fingerprint of it.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request

from atp.core.errors import ConfigurationError

MIN_TOKEN_LENGTH = 16
"""The shortest `ATP_API_TOKEN` accepted, in characters (e.g. `openssl rand -hex 16` gives 32)."""


def check_api_token(token: str) -> str:
    """Returns `token` if it is fit to guard the control plane.

    Raises:
        ConfigurationError: the token is empty, has white space or is shorter than
            `MIN_TOKEN_LENGTH`; the message names ATP_API_TOKEN, never the token.
    """
    if not token.strip():
        problem = "is empty"
    elif any(ch.isspace() for ch in token):
        problem = "contains white space"
    elif len(token) < MIN_TOKEN_LENGTH:
        problem = f"has {len(token)} characters"
    else:
        return token
    raise ConfigurationError(
        f"ATP_API_TOKEN {problem}: set at least {MIN_TOKEN_LENGTH} characters without white "
        "space (e.g. openssl rand -hex 16), or unset it to run without a token on loopback"
    )


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
