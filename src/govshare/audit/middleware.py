"""Give every request an id (X-Request-ID in, or a fresh uuid) and remember where it came from."""

import re
import uuid

from govshare.audit import services

_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SAFE.match(given) else uuid.uuid4().hex
        request.audit_request_id = request_id
        token = services.bind_request(request_id, request.META.get("REMOTE_ADDR", ""))
        try:
            response = self.get_response(request)
        finally:
            services.unbind_request(token)
        response["X-Request-ID"] = request_id
        return response
