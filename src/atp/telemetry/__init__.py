"""Prometheus metrics and structured logging shared by every service."""
