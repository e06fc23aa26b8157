from govshare.notifications.services import unread_count


def nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_count": unread_count(user), "roles": user.role_codes}
