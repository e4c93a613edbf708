"""Alembic environment: the schema is SQLModel's metadata of review.models."""
from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import review.models  # noqa: F401  (registers the tables)
from review import config as settings

target_metadata = SQLModel.metadata
cfg = context.config


def run_migrations_online():
    connection = cfg.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = cfg.get_main_option("sqlalchemy.url") or settings.load()["DATABASE_URL"]
    engine = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
