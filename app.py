"""Imprimatur (审发台): `create_app()` and nothing else."""
from __future__ import annotations

from flask import Flask

from review import config as settings
from review import cli, web
from review.config import PROJECT_ROOT
from workers.runtime import Runtime


def create_app(config: dict | None = None) -> Flask:
    """Defaults, then the environment, then `config` (tests pass a mapping)."""
    values = settings.load(config)
    app = Flask(
        __name__,
        instance_path=values["INSTANCE_PATH"],
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(values)
    app.extensions["imprimatur"] = Runtime(values)
    web.init_app(app)
    cli.init_app(app)
    return app
