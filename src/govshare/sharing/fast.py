"""The delivery API's two hottest routes without django-ninja's per-call machinery (issue #5).

`GET /api/v1/share/<cls>/<seq>/records` and `POST …/verify` are answered here, at the end of the short
middleware chain of wsgi.py, before URL resolution. What runs is what ninja would run: the parameters
checked against the same declared types (sharing/api.py's signatures), the bearer credential checked and
refusals audited as ShareBearer does, then the API's own handler function, and its exception handlers
and renderer for the answer. What is left out costs more than the lookup and decides nothing here:
ninja's parameter binding, pydantic's re-validation of a response the gate already builds in the
declared shape, and a second query for the grants (`gate.authenticate_call` reads the credential, the
resource, the grants and the open-ticket flag at once). tests/test_sharing_fast.py sends every success
and refusal both ways and compares status, headers, body bytes and audit events.

Anything else — another method, a trailing slash, a parameter or body the declared types refuse — is
passed on to the API unchanged, which answers it exactly as before (refusal and audit included). If the
handlers' signatures change, the fast routes step aside until this module is brought in line.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import typing

from django.http import HttpResponse, HttpResponseBase
from ninja import Status
from ninja.errors import AuthenticationError
from ninja.renderers import JSONRenderer
from pydantic import TypeAdapter

from . import api as share_api
from . import gate

log = logging.getLogger(__name__)

_ROUTE = re.compile(r"/api/v1/share/([^/]+)/([^/]+)/(records|verify)")
_METHOD = {"records": "GET", "verify": "POST"}
# The handler parameters this module binds itself; any other signature turns the fast routes off.
_SIGNATURES = {"records": ("request", "cls", "seq"), "verify": ("request", "cls", "seq", "body")}
MAX_VERIFY_BODY = 64 * 1024  # a verification names at most 50 items; larger bodies take the API's path


def bearer_token(request) -> str | None:
    """The token as ninja's HttpBearer reads it; None when there is no `Bearer` credential at all."""
    value = request.headers.get("Authorization")
    if not value:
        return None
    parts = value.split(" ")
    if parts[0].lower() != "bearer":
        return None
    return " ".join(parts[1:])


class JsonAnswer:
    """The API renderer's JSON of a 200 answer, made with the encoder it would use, built once."""

    def __init__(self, api):
        renderer = api.renderer
        self.api = api
        self.content_type = api.get_content_type()
        self.charset = renderer.charset
        self.encoder = None
        # Only for ninja's own render() (json.dumps with the renderer's encoder and parameters).
        if type(renderer).render is JSONRenderer.render:
            encoder = renderer.encoder_class(**renderer.json_dumps_params)
            if json.encoder.c_make_encoder is not None and encoder.indent is None:
                self.encoder = encoder

    def __call__(self, request, data) -> HttpResponseBase:
        if isinstance(data, HttpResponseBase):  # as ninja: a handler's own response is the answer
            return data
        if isinstance(data, Status):
            return self.api.create_response(request, data.value, status=data.status_code)
        enc = self.encoder
        if enc is None or type(data) is not dict:
            return self.api.create_response(request, data, status=200)
        # JSONEncoder.iterencode's one-shot C path, without rebuilding the encoder object per call.
        make = json.encoder.c_make_encoder(
            {} if enc.check_circular else None,
            enc.default,
            json.encoder.c_encode_basestring_ascii if enc.ensure_ascii else json.encoder.c_encode_basestring,
            None,
            enc.key_separator,
            enc.item_separator,
            enc.sort_keys,
            enc.skipkeys,
            enc.allow_nan,
        )
        content = "".join(make(data, 0)).encode(self.charset)
        return HttpResponse(content, status=200, content_type=self.content_type)


def _adapters(view, names) -> dict[str, TypeAdapter]:
    """Validators of the handler's path parameters, from its declared types (plain `str`: none)."""
    hints = typing.get_type_hints(view, include_extras=True)
    return {name: TypeAdapter(hints[name]) for name in names if hints[name] is not str}


class FastRoutes:
    """Middleware (last of GOVSHARE_LEAN_MIDDLEWARE): answers /records and /verify, passes on the rest."""

    def __init__(self, get_response):
        self.get_response = get_response
        from govshare.api import api  # the API's exception handlers and renderer

        self.api = api
        self.answer = JsonAnswer(api)
        views = {"records": share_api.records, "verify": share_api.verify}
        self.enabled = all(
            tuple(inspect.signature(views[r]).parameters) == sig for r, sig in _SIGNATURES.items()
        )
        if not self.enabled:
            log.warning("delivery fast routes off: sharing/api.py handler signatures changed")
            return
        self.views = views
        self.path_types = _adapters(share_api.records, ("cls", "seq"))
        self.verify_types = _adapters(share_api.verify, ("cls", "seq"))
        self.body_type = typing.get_type_hints(share_api.verify, include_extras=True)["body"]

    def _valid(self, route: str, cls: str, seq: str, request):
        """What ninja would bind (the verify body as its schema), or None if it would refuse something."""
        try:
            for name, adapter in (self.path_types if route == "records" else self.verify_types).items():
                adapter.validate_python(cls if name == "cls" else seq)
            if route == "records":
                return ()
            if not 0 < int(request.META.get("CONTENT_LENGTH") or 0) <= MAX_VERIFY_BODY:
                return None
            return (self.body_type.model_validate(json.loads(request.body)),)
        except Exception:  # refused, unreadable, not JSON: the API's own answer (400, 422)
            return None

    def __call__(self, request):
        m = _ROUTE.fullmatch(request.path_info)
        if m is None or not self.enabled or request.method != _METHOD[m.group(3)]:
            return self.get_response(request)
        cls, seq, route = m.groups()
        bound = self._valid(route, cls, seq, request)
        if bound is None:
            return self.get_response(request)
        try:
            token = bearer_token(request)
            if token is None:  # as ShareBearer: audited, then ninja's 401
                gate._audit(
                    request,
                    gate._endpoint_of(request),
                    gate._resource_of(request),
                    reason="not_authenticated",
                )
                raise AuthenticationError()
            given = request.GET if route == "records" else bound[0].items
            key = gate.lookup_key(f"{cls}/{seq}", route, given)
            gate.authenticate_call(request, cls, seq, token, key)
            result = self.views[route](request, cls, seq, *bound)
        except Exception as exc:
            return self.api.on_exception(request, exc)  # as ninja does: handled, or raised on to Django
        return self.answer(request, result)
