"""How callers of /api/v1/ authenticate: people by their portal session, client systems by token."""

from django.http import HttpRequest
from ninja.security import SessionAuth


class PersonSession(SessionAuth):
    """People call the API with their portal session (CSRF-protected writes)."""

    def authenticate(self, request: HttpRequest, key):
        user = request.user
        return user if user.is_authenticated and user.is_active else None
