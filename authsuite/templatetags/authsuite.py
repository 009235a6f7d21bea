from django import template
from django.forms import BaseForm, BoundField
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

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


def _forms_with_errors(context) -> list[BaseForm]:
    return [value for value in context.flatten().values()
            if isinstance(value, BaseForm) and value.is_bound and value.errors]


@register.simple_tag(takes_context=True)
def authsuite_page_has_errors(context) -> bool:
    """Whether a form of the page refused what was sent: its title says so first, the
    first thing a screen reader reads of a page that came back."""
    return bool(_forms_with_errors(context))


@register.simple_tag(takes_context=True)
def authsuite_widget(context, field: BoundField) -> str:
    """``field``'s input, with the focus where a keyboard or screen reader user needs it.

    A form that came back with errors takes the focus to its first error: the summary of
    its non-field errors (``authsuite/form.html`` focuses that) or the first field in error,
    read with its error (aria-describedby). The field a form focuses when it is new
    (``autofocus`` in its widget's attrs) keeps the focus only while no form of the page
    has errors: a browser focuses the first autofocus element, and that would be a field
    above the one in error (a sign-in's address, when the password was wrong)."""
    form = field.form
    if form.is_bound and form.errors:
        first = None if form.non_field_errors() else next(
            (f for f in form.visible_fields() if f.errors), None)
        focus = first is not None and first.name == field.name
    else:
        focus = bool(field.field.widget.attrs.get("autofocus")) and not any(
            other is not form for other in _forms_with_errors(context))
    # False leaves the attribute out (Django's attrs.html), whatever the widget's attrs say.
    return field.as_widget(attrs={"autofocus": focus})


@register.filter
def authsuite_duration(seconds) -> str:
    """A lifetime in words, never longer than it is: "10 minutes", "1 hour", "45 seconds".
    Whole hours are said in hours, anything else of a minute or more in whole minutes."""
    seconds = int(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = seconds // 3600
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    if seconds >= 60:
        minutes = seconds // 60
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}


@register.simple_tag
def authsuite_username_field(address) -> str:
    """A hidden username field naming the account (by its address) a password form is for:
    a password manager then saves, or fills, the password under that account on a form that
    does not ask for it (choosing a new password, confirming the current one). Nothing the
    form reads: an extra field, ignored."""
    if not address:
        return ""
    return format_html('<input type="text" name="username" value="{}" autocomplete="username" '
                       'hidden readonly>', address)
