"""The portfolio risk engine: live exposure, six rule types, trading states, the pre-trade gate.

Pure and synchronous: it takes a Clock and returns events; the service wiring publishes them.
"""
