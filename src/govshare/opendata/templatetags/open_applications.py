"""Template tags that put conditional open applications (R-OPEN-08) on pages other helpers own: the
dataset page and the account page include one tag each, so their views need not know about them."""

from django import template

from .. import applications

register = template.Library()


@register.inclusion_tag("opendata/applications/_dataset_box.html", takes_context=True)
def application_box(context, dataset):
    user = context.get("user") or getattr(context.get("request"), "user", None)
    box = applications.box_for(user, dataset)
    current = dataset.current if box["active"] is not None else None
    return {
        **box,
        "d": dataset,
        "user": user,
        "current": current,
        "agreement": applications.agreement_required(),
    }


@register.inclusion_tag("opendata/applications/_my_list.html", takes_context=True)
def my_applications(context):
    user = context.get("user") or getattr(context.get("request"), "user", None)
    return {"rows": applications.my_rows(user)}
