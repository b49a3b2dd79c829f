"""eventspec: declarative event logs and replay for SQLAlchemy, compiled from YAML specs."""
