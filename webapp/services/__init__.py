"""Business rules as functions. Each module owns one domain's state changes and queries."""
