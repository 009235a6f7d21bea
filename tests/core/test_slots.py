"""Template slots: an entry's context function is given the page's context when it asks."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from authsuite import slots


@pytest.fixture
def slot():
    name = "test_slot"
    yield name
    slots._slots.pop(name, None)


def render(slot: str, **page) -> str:
    request = RequestFactory().get("/")
    template = Template('{% load authsuite %}{% authsuite_slot "' + slot + '" %}')
    return template.render(Context({"request": request, **page}))


def test_a_context_function_taking_the_context_reads_what_the_page_has(slot, tmp_path,
                                                                       settings):
    (tmp_path / "entry.html").write_text("[{{ shown }}]")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    seen = []

    def from_the_page(request, page):
        seen.append(page.get("ways"))
        return {"shown": "yes"} if "passkey" in page.get("ways", []) else None

    slots.register(slot, "entry.html", from_the_page, takes_context=True)

    assert render(slot, ways=["passkey"]) == "[yes]"
    assert render(slot, ways=["totp"]) == ""
    assert seen == [["passkey"], ["totp"]]


def test_a_context_function_of_the_request_alone_still_works(slot, tmp_path, settings):
    (tmp_path / "entry.html").write_text("[{{ shown }}]")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    slots.register(slot, "entry.html", lambda request: {"shown": request.path})

    assert render(slot) == "[/]"
