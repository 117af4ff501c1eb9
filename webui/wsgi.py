"""Entry point for gunicorn: ``gunicorn webui.wsgi:app``."""

from playdeck.settings import get_settings
from webui import create_app
from webui.admission import Admission

app = create_app()
app.wsgi_app = Admission(app.wsgi_app, get_settings().web_active_requests)  # type: ignore[method-assign]
