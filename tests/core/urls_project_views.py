"""The demo's URLs and a project's own views beside the suite's, each written twice: as an
``async def`` view, as a project served over ASGI writes it, and as a plain function.

``whoami`` says who the request is signed in as; ``sign-in`` and ``sign-out`` use Django's
own ``authenticate``/``login``/``logout`` (``aauthenticate``/``alogin``/``alogout``),
as a project's login view of its own does.
"""

import json

from django.contrib import auth
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from authsuite.urls import *  # noqa: F403
from authsuite.urls import urlpatterns as demo_urlpatterns


def _who(user) -> JsonResponse:
    return JsonResponse({"authenticated": user.is_authenticated, "id": user.pk})


async def whoami_async(request):
    return _who(await request.auser())


def whoami_sync(request):
    return _who(request.user)


@csrf_exempt
async def sign_in_async(request):
    data = json.loads(request.body)
    user = await auth.aauthenticate(request, email=data["email"], password=data["password"])
    if user is None:
        return JsonResponse({"authenticated": False}, status=400)
    await auth.alogin(request, user)
    return _who(user)


@csrf_exempt
def sign_in_sync(request):
    data = json.loads(request.body)
    user = auth.authenticate(request, email=data["email"], password=data["password"])
    if user is None:
        return JsonResponse({"authenticated": False}, status=400)
    auth.login(request, user)
    return _who(user)


@csrf_exempt
async def sign_out_async(request):
    await auth.alogout(request)
    return _who(request.user)


@csrf_exempt
def sign_out_sync(request):
    auth.logout(request)
    return _who(request.user)


urlpatterns = [
    path("project/whoami/async/", whoami_async),
    path("project/whoami/sync/", whoami_sync),
    path("project/sign-in/async/", sign_in_async),
    path("project/sign-in/sync/", sign_in_sync),
    path("project/sign-out/async/", sign_out_async),
    path("project/sign-out/sync/", sign_out_sync),
    *demo_urlpatterns,
]
