"""Keep public accounts (no department, no role) on the open portal, away from the officers' pages.

Officer pages check roles for what they change, but several read pages only ask for a login; a citizen
who registered on the portal must not browse the internal catalog or the workspace. Signed in, such an
account reaches /open/, signing in and out, and its own account security pages; everything else sends it
to /open/account/ (API calls get 403).
"""

from django.http import JsonResponse
from django.shortcuts import redirect

from .identity import is_public_user

ALLOWED = ("/open/", "/login/", "/logout/", "/security/", "/static/", "/healthz", "/favicon")


class PublicAccountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if not path.startswith(ALLOWED):
            user = getattr(request, "user", None)
            if user is not None and is_public_user(user):
                if path.startswith("/api/"):
                    return JsonResponse(
                        {"code": "public_account", "message": "公众账号不能使用政务部门的功能", "detail": {}},
                        status=403,
                    )
                return redirect("/open/account/")
        return self.get_response(request)
