"""The WSGI application: people's pages through the full middleware chain, client systems through a short one.

The delivery API (`/api/v1/share/`) answers bearer-token calls only: no session, CSRF, locale, login
lockout, messages or static files apply to it, and at hundreds of calls a second those middlewares
cost more than the lookup. Paths under `GOVSHARE_LEAN_PREFIXES` go to a second Django handler whose
chain keeps what every response needs (security headers, the request id the audit events carry).
Everything else — URL resolution, the API, the gate — is the same code.
"""

import os

from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govshare.settings")

import django

django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402


class LeanHandler(WSGIHandler):
    def load_middleware(self, is_async=False):
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = list(settings.GOVSHARE_LEAN_MIDDLEWARE)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def make_application():
    full, lean = WSGIHandler(), LeanHandler()
    prefixes = tuple(settings.GOVSHARE_LEAN_PREFIXES)

    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(prefixes):
            return lean(environ, start_response)
        return full(environ, start_response)

    return application


application = make_application()
