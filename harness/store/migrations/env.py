"""Alembic environment: runs on the connection :mod:`harness.store.engine` passes in ``attributes``.

No ``alembic.ini`` is needed: the engine builds the Alembic config in code. A developer adding
a revision can still use the alembic command with ``script_location = harness.store:migrations``.
"""

from __future__ import annotations

from alembic import context

from harness.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic command by hand
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
