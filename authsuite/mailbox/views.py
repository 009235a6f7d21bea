from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache

from authsuite.mailbox.models import Message
from authsuite.views import require_methods


def _debug_only():
    # Mail in this box can sign people in: it must never be reachable in production.
    if not settings.DEBUG:
        raise Http404


@require_methods("GET", "HEAD")
@never_cache  # its mail holds sign-in links and their tokens
def inbox(request):
    _debug_only()
    to = request.GET.get("to", "")[:254]
    messages = Message.objects.all()
    if to:
        messages = messages.filter(to__icontains=to)
    return render(request, "authsuite_mailbox/inbox.html", {"mail": messages[:100], "to": to})


@require_methods("GET", "HEAD")
@never_cache
def detail(request, pk: int):
    _debug_only()
    message = get_object_or_404(Message, pk=pk)
    return render(request, "authsuite_mailbox/detail.html", {"message": message})
