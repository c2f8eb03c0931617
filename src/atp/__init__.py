"""ATP, the agentic trading platform."""

__version__ = "0.1.0"
