"""The HTTP API: ``create_app(ctx)`` builds it; each resource has a router in ``routers``."""
