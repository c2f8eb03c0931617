"""Market data: the CSV bar catalog, multi-symbol alignment and the pure replay core."""
