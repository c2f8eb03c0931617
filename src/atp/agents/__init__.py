"""Agents: the strategy plugin API, the built-in strategies and the host that runs them."""
