"""One FastAPI router per area; each service mounts the ones it serves."""
