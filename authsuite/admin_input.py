"""Admin pages that answer bad input with a message, never a 500.

Django's admin trusts some of what a request carries: the ids of an action's selection
(``_selected_action``), list-filter values such as ``?created_at__year=99999``, and the
ids a many-to-many field posts (groups, permissions). A value that is not an id, or one
too large for the database, fails only when the query runs: a 500, or for a streamed
export a download cut short. :class:`SafeInputMixin` checks them first.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import EmptyResultSet, FullResultSet, ValidationError
from django.db import DataError, models
from django.utils.translation import gettext as _

from authsuite.text import refuse_control_characters


def valid_key(field, value) -> bool:
    """Whether ``value`` is a value of model field ``field`` the database can take: of its
    type, and within its range for an integer."""
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


SEARCH_MAX = 254  # characters: the longest address, and more than any name or id


class SafeInputMixin:
    """For a ModelAdmin: a bad selection is a message, bad list filters the admin's own
    "invalid lookup" page, and bad many-to-many ids or control characters in a line of
    text a form error."""

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
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.CharField) and isinstance(formfield, forms.CharField):
            formfield.validators.append(refuse_control_characters)
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
