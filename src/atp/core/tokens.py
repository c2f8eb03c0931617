"""What makes an API token fit to guard the control plane (no web framework needed to check).

`atp.services.settings` checks `ATP_API_TOKEN` at start with this, and the backtest CLI imports
the settings: keeping it here keeps FastAPI out of processes that serve no HTTP.
"""

from __future__ import annotations

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
