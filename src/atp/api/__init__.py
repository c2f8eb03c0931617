"""HTTP control planes: the app factory, error mapping, auth, one router per area."""
