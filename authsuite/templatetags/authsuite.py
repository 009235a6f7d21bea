from django import template
from django.template.loader import get_template

from authsuite import slots

register = template.Library()


@register.simple_tag(takes_context=True)
def authsuite_slot(context, name: str):
    """Render every template other apps registered for slot ``name``."""
    request = context.get("request")
    parts = []
    for template_name, extra in slots.entries(name):
        values = context.flatten()
        if extra is not None:
            added = extra(request)
            if added is None:
                continue
            values.update(added)
        parts.append(get_template(template_name).render(values, request))
    return "".join(parts)
