"""Composition roots, one per deployable service, the `atp` CLI and the embedded launcher."""
