"""The machine API under /api/v1/ (DESIGN §6): one error shape everywhere."""

from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from govshare import __version__
from govshare.apiauth import PersonSession
from govshare.errors import DomainError


class Utf8JSON(JSONRenderer):
    """Chinese as UTF-8 text, not \\u escapes: readable in logs and curl, and half the bytes."""

    media_type = "application/json; charset=utf-8"
    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=Utf8JSON(),
    title="govshare API",
    version=__version__,
    description="政务数据共享交换平台接口。错误统一为 {code, message, detail}。",
    urls_namespace="api",
    auth=PersonSession(),
)


def _error(request, status: int, code: str, message: str, detail: dict | None = None):
    return api.create_response(
        request, {"code": code, "message": message, "detail": detail or {}}, status=status
    )


@api.exception_handler(DomainError)
def domain_error(request, exc: DomainError):
    return _error(request, exc.status, exc.code, exc.message, exc.detail)


@api.exception_handler(NinjaValidationError)
def invalid_request(request, exc: NinjaValidationError):
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", [])),
            "code": e.get("type", "invalid"),
            "message": e.get("msg", ""),
        }
        for e in exc.errors
    ]
    return _error(request, 422, "invalid_request", "请求参数格式不正确", {"errors": errors})


@api.exception_handler(AuthenticationError)
def not_authenticated(request, exc):
    return _error(request, 401, "not_authenticated", "请先登录或提供有效凭证")


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return _error(request, exc.status_code, "http_error", str(exc))


from govshare.audit.api import router as audit_router  # noqa: E402
from govshare.catalog.api import router as catalog_router  # noqa: E402
from govshare.clients.api import router as clients_router  # noqa: E402
from govshare.collect.api import router as collect_router  # noqa: E402
from govshare.collect.api_elements import router as elements_router  # noqa: E402
from govshare.collect.api_mounts import router as mounts_router  # noqa: E402
from govshare.collect.api_quality import router as quality_router  # noqa: E402
from govshare.corrections.api import router as corrections_router  # noqa: E402
from govshare.orgs.api import router as orgs_router  # noqa: E402
from govshare.sharing.api import router as share_router  # noqa: E402
from govshare.sharing.api_workflow import router as sharing_router  # noqa: E402

# The delivery API first: its calls are the most frequent, and URL resolution tries patterns in order.
api.add_router("/share", share_router)
api.add_router("/orgs", orgs_router)
api.add_router("/catalog", catalog_router)
api.add_router("/audit", audit_router)
api.add_router("/clients", clients_router)
api.add_router("/collect", collect_router)
api.add_router("/mounts", mounts_router)
api.add_router("/elements", elements_router)
api.add_router("/quality", quality_router)
api.add_router("/sharing", sharing_router)
api.add_router("/corrections", corrections_router)
