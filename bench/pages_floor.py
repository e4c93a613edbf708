"""The pages' floor: what the same pages cost served the same way with no data access.

bench/pages_load.py --floor serves this app instead of app:create_app(): the
real app, plus two routes that show how much of a page's time is left for
its queries once everything else a signed-in page costs is paid:

- /floor/signed-in: base.html with nothing in it, for a signed-in user (the
  session cookie, the user and header counts of load_user, the header, the
  security headers): what every signed-in page pays before its own work;
- /floor/page?path=P: the page P renders from the template context its real
  view built once, for this user, in this process (the view runs once and its
  context is kept). Every later request renders the same template from that
  context: the page's HTML with no SQL of its own.

If /floor/page already takes more than 3x the login form's p95, no query
work, however cheap, brings the real page under the target.

    gunicorn 'bench.pages_floor:floor_app()'
"""
from __future__ import annotations

from flask import Blueprint, abort, before_render_template, current_app, render_template, request
from flask_login import current_user, login_required

from app import create_app
from review.web.context import db_session


def _captured(path: str) -> tuple:
    """Run the real view of *path* once and return (template, the context it rendered with):
    only what the view passed, not what context processors add (those run again per request)."""
    app = current_app._get_current_object()
    endpoint, view_args = app.url_map.bind("localhost").match(path, method="GET")
    seen = []

    def keep(sender, template, context, **extra):
        injected: dict = {}
        app.update_template_context(injected)
        seen.append((template.name, {k: v for k, v in context.items() if k not in injected}))

    with before_render_template.connected_to(keep, app):
        app.view_functions[endpoint](**view_args)
    if not seen:
        abort(404)
    # Loaded rows stay readable after this request's session is rolled back and closed.
    db_session().expunge_all()
    return seen[-1]


def floor_app():
    app = create_app()
    bp = Blueprint("floor", __name__)
    contexts: dict[tuple[int, str], tuple] = {}

    @bp.get("/floor/signed-in")
    @login_required
    def signed_in():
        return render_template("base.html")

    @bp.get("/floor/page")
    @login_required
    def page():
        key = (current_user.id, request.args["path"])
        if key not in contexts:
            contexts[key] = _captured(key[1])
        template, context = contexts[key]
        return render_template(template, **context)

    app.register_blueprint(bp)
    return app
