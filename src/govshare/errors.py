"""One error type for every refusal a person or a client system can be shown (DESIGN §6).

Services raise `DomainError`; the API turns it into `{"code", "message", "detail"}` with `status`,
the web views into a message on the page. `message` is the Chinese sentence a user reads, `code` the
stable machine-readable reason.
"""


class DomainError(Exception):
    status = 400

    def __init__(self, code: str, message: str, detail: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail or {}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class PermissionDenied(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class IllegalTransition(DomainError):
    status = 409


class ValidationFailed(DomainError):
    """A refusal that names every offending field: detail = {"errors": [{"field", "label", "code", "message"}]}."""

    status = 422

    def __init__(self, errors: list[dict], message: str | None = None):
        first = errors[0]["message"] if errors else "数据校验未通过"
        super().__init__("validation_failed", message or first, {"errors": errors})
        self.errors = errors
