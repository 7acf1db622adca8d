"""Alembic environment for camaudit: the engine comes from ``web.migrate``, not an ini.

``web.migrate`` puts a live connection in ``config.attributes["connection"]``; there is
no offline (SQL script) mode because the appliance always migrates its own database.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from web import models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("run migrations through `camaudit db upgrade` (web.migrate)")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
