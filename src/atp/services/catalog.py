"""The deployable services: their names, modules and ports."""

from __future__ import annotations

from dataclasses import dataclass

from atp.services.settings import AtpSettings


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One deployable service."""

    name: str
    module: str
    port_setting: str

    def port(self, settings: AtpSettings) -> int:
        """The HTTP port the service listens on under `settings`."""
        port: int = getattr(settings, self.port_setting)
        return port


# Start order: consumers before producers, so a fresh platform loses nothing to timing
# (durable consumers would replay anyway, but this keeps the first minute tidy).
SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("audit", "atp.services.audit", "audit_port"),
    ServiceEntry("broker-adapters", "atp.services.broker_adapters", "broker_port"),
    ServiceEntry("meta-agent", "atp.services.meta_agent", "meta_agent_port"),
    ServiceEntry("agents", "atp.services.agents", "agents_port"),
    ServiceEntry("backtester", "atp.services.backtester", "backtester_port"),
    ServiceEntry("market-data", "atp.services.market_data", "market_data_port"),
)

BY_NAME = {entry.name: entry for entry in SERVICES}
