"""The meta-agent's pure core: decision windows, the four voting strategies, agent scoring.

Everything here is synchronous and deterministic and takes a `Clock`; the service
(`atp.services.meta_agent`) feeds it events from the bus and publishes what it returns.
"""
