"""Broker adapters: one order model, a strict state machine, the paper venue, Alpaca and IB."""
