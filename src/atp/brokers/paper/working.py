"""What the paper venue remembers of an order it is working, from one bar to the next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(slots=True)
class Working:
    """A working order's state: whether its stop has triggered, and its first session's date.

    The session decides when a DAY order expires (a bar of a later date) and whether a look
    is the first one (IOC and FOK end on it).
    """

    triggered: bool = False
    session: date | None = None
