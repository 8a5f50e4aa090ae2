"""Storage layer: SQLAlchemy models, engines and sessions, migrations and repositories."""
