"""The event bus: subjects, the wire codec with schema validation, NATS and in-memory buses."""
