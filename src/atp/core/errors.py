"""The one error tree of ATP.

    AtpError
     +-- ConfigurationError   bad settings; fatal at start
     +-- InvalidInput         data or a request that breaks a documented contract (a 422)
     +-- InvariantViolation   a bug: a state the code promised could not happen
     +-- TransientError       retryable: venue unavailable, rate limited, timed out
     |    +-- VenueUnavailable
     |    +-- RateLimited
     +-- VenueRejected        the venue refused permanently (insufficient funds, bad symbol)
     +-- StrategyError        a user strategy raised; the strategy is quarantined
     +-- NotFound             the thing asked for does not exist (a 404)
     +-- Conflict             the request clashes with current state (a 409)

Business outcomes (a risk denial, a rejected order) are events, not exceptions.
"""

from __future__ import annotations


class AtpError(Exception):
    """Base of every error ATP raises on purpose."""

    code = "atp_error"


class ConfigurationError(AtpError):
    """Settings are missing or inconsistent; the service cannot start."""

    code = "configuration_error"


class InvalidInput(AtpError):
    """Input breaks a documented contract; the message says what was expected and found."""

    code = "invalid_input"


class InvariantViolation(AtpError):
    """A state the code promised impossible happened: a bug."""

    code = "invariant_violation"


class TransientError(AtpError):
    """A failure that may pass if retried."""

    code = "transient_error"


class VenueUnavailable(TransientError):
    """The venue (broker, NATS, database) could not be reached."""

    code = "venue_unavailable"


class RateLimited(TransientError):
    """The venue asked us to slow down."""

    code = "rate_limited"


class VenueRejected(AtpError):
    """The venue refused the request for good."""

    code = "venue_rejected"


class StrategyError(AtpError):
    """A strategy raised; the host quarantines it."""

    code = "strategy_error"


class NotFound(AtpError):
    """The requested entity does not exist."""

    code = "not_found"


class Conflict(AtpError):
    """The request clashes with the current state."""

    code = "conflict"
