from django import template
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils.safestring import mark_safe

from authsuite import slots

register = template.Library()


@register.simple_tag(takes_context=True)
def authsuite_slot(context, name: str):
    """Render every template other apps registered for slot ``name``."""
    request = context.get("request")
    parts = []
    for entry in slots.entries(name):
        values = context.flatten()
        added = entry.adds(request, values)
        if added is None:
            continue
        values.update(added)
        parts.append(get_template(entry.template_name).render(values, request))
    # Each part is a rendered template, escaped by its own autoescaping; simple_tag would
    # escape the markup itself a second time.
    return mark_safe("".join(parts))  # noqa: S308


@register.simple_tag
def authsuite_site_root() -> str:
    """The site's root: ``/``, or the sub-path it is served under (``FORCE_SCRIPT_NAME``,
    the server's SCRIPT_NAME), where a link to ``/`` would leave it."""
    return get_script_prefix()
