"""Durable storage: the database, its migrations, the repositories and the audit trail."""
