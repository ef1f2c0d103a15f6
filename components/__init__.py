"""redis-session-platform, the product: Pulumi components (one per module), the stack config
models (config/) and the monitoring content (monitoring/). Imported as `components` in this
repository and as `redis_session_platform` when installed; it imports itself only relatively
(docs/decisions.md, "Product and tooling")."""
