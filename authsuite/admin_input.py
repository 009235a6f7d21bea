"""Admin pages that answer bad input with a message, never a 500.

Django's admin trusts some of what a request carries: the ids of an action's selection
(``_selected_action``), list-filter values such as ``?created_at__year=99999``, and the
ids a many-to-many field posts (groups, permissions). A value that is not an id, or one
too large for the database, fails only when the query runs: a 500, or for a streamed
export a download cut short. :class:`SafeInputMixin` checks them first.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import (
    EmptyResultSet,
    FullResultSet,
    PermissionDenied,
    ValidationError,
)
from django.db import DataError, models
from django.utils.translation import gettext as _

from authsuite.text import refuse_control_characters

#: An integer as the admin writes one (a checkbox's value, an option's): ASCII digits.
_INTEGER = re.compile(r"-?[0-9]+")


def valid_key(field, value) -> bool:
    """Whether ``value`` is a value of model field ``field`` the database can take: of its
    type, and within its range for an integer. An integer is ASCII digits: ``int()`` also
    reads "٢", " 2 ", "+2" and "0_2" as 2, which no checkbox of the admin sends, and a
    selection so spelled would act on the row of that number."""
    if isinstance(field, models.IntegerField) and isinstance(value, str) and (
            not _INTEGER.fullmatch(value)):
        return False
    try:
        field.run_validators(field.to_python(value))
    except (ValidationError, ValueError, TypeError, OverflowError):
        return False
    return True


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuses, as an invalid choice, an id the database could not even compare."""

    def _check_values(self, value):
        opts = self.queryset.model._meta
        key = opts.get_field(self.to_field_name) if self.to_field_name else opts.pk
        for pk in value if isinstance(value, list | tuple) else []:
            if not valid_key(key, pk):
                raise ValidationError(self.error_messages["invalid_pk_value"],
                                      code="invalid_pk_value", params={"pk": pk})
        return super()._check_values(value)


class TypedTextCheckedForm(forms.BaseForm):
    """Refuses control characters in the lines of text staff changed, naming them.

    A value left as stored is saved as it is: the admin writes every field of its form,
    and a name saved before the rule was widened (an RLM in it, refused since) must not
    make the whole record impossible to save, or answer on a field nobody touched.
    Checked after the fields' own cleaning, before the form's ``clean()``."""

    def clean(self):
        for name in self.changed_data:
            field = self.fields.get(name)
            value = self.cleaned_data.get(name)
            if getattr(field, "refuses_control_characters", False) and isinstance(value, str):
                try:
                    refuse_control_characters(value)
                except ValidationError as error:
                    self.add_error(name, error)
        return super().clean()


def _typed_text_checked(form: type[forms.BaseForm]) -> type[forms.BaseForm]:
    if issubclass(form, TypedTextCheckedForm):
        return form
    return type(form.__name__, (TypedTextCheckedForm, form), {"__module__": form.__module__})


SEARCH_MAX = 254  # characters: the longest address, and more than any name or id


def posted_action(request) -> str:
    """The name of the action a list page's POST asks for, read as Django's admin reads it
    (the ``action`` select at ``index``: the list has one above and one below); "" for none."""
    try:
        index = int(request.POST.get("index", 0))
    except ValueError:
        index = 0
    names = request.POST.getlist("action")
    return names[index] if 0 <= index < len(names) else ""


class SafeInputMixin:
    """For a ModelAdmin: a bad selection is a message, bad list filters the admin's own
    "invalid lookup" page, and bad many-to-many ids or control characters typed into a line
    of text a form error. An action the staff member may not run is refused (403)."""

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and "_save" not in request.POST:
            self.refuse_action_not_allowed(request)
        return super().changelist_view(request, extra_context)

    def refuse_action_not_allowed(self, request) -> None:
        """Refuse (403) a POST of an action of this admin that the staff member is not
        offered: one whose permission they lack (``@admin.action(permissions=...)``) or that
        this admin takes off the list (``delete_selected`` on read-only rows).

        Django's admin answers it with the "No action selected" of an empty choice, a 200
        that no record shows: here it is the refusal any other page gives staff without the
        permission, on the record as ``authsuite.permission_denied`` as they are. A name
        the admin does not know at all stays Django's message."""
        name = posted_action(request)
        if not name:
            return
        known = {known_name for _func, known_name, _desc in self._get_base_actions()}
        if name in known and name not in self.get_actions(request):
            raise PermissionDenied

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(valid_key(pk, value) for value in selected):
            self.message_user(request, _("The selection is not valid: choose the items again."),
                              messages.ERROR)
            return None  # the admin shows the list again, as for an empty selection
        return super().response_action(request, queryset)

    def get_changelist_instance(self, request):
        # A filter value the query cannot take (a year out of range, an integer too large
        # for the column) fails when the list counts its rows, or else only while the page
        # renders: both are the admin's own "invalid lookup" answer instead.
        try:
            changelist = super().get_changelist_instance(request)
            queryset = changelist.queryset
            try:
                queryset.query.get_compiler(using=queryset.db).as_sql()
            except (EmptyResultSet, FullResultSet):
                pass  # answered without asking the database: nothing wrong with it
        except (ValueError, OverflowError, DataError) as error:
            raise IncorrectLookupParameters(error) from error
        return changelist

    def get_search_results(self, request, queryset, search_term):
        # Nobody searches for a page of text; SQLite refuses a LIKE pattern that long
        # ("LIKE or GLOB pattern too complex") only once the list is rendered.
        if len(search_term) > SEARCH_MAX:
            match = getattr(request, "resolver_match", None)
            if match is not None and match.url_name == "autocomplete":
                return queryset.none(), False  # a select box's search: nothing found
            raise IncorrectLookupParameters("The search is too long.")
        return super().get_search_results(request, queryset, search_term)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # A name, a username, a label: one line of text as people read it, never with
        # control characters (a bidi override makes it read otherwise than it is stored).
        # Checked by the form, and only once changed (``TypedTextCheckedForm``).
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.CharField) and isinstance(formfield, forms.CharField):
            formfield.refuses_control_characters = True
        return formfield

    def get_form(self, request, obj=None, **kwargs):
        return _typed_text_checked(super().get_form(request, obj, **kwargs))

    def get_changelist_form(self, request, **kwargs):
        return _typed_text_checked(super().get_changelist_form(request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """Rows staff may look at and nothing else: no add, change or delete page, whatever
    Django's permissions say (records kept as evidence, or state only flows may change)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
