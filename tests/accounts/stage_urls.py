"""URLconf of the pipeline tests: the suite's URLs plus one view for a test-only login stage."""

from django.http import JsonResponse
from django.urls import include, path

from accounts import pipeline


def pass_test_stage(request):
    result = pipeline.stage_passed(request, "test_stage", amr=["otp"])
    if result is None:
        return JsonResponse({"status": "nothing pending"}, status=409)
    return JsonResponse(result.as_dict())


urlpatterns = [
    path("test-stage/", pass_test_stage, name="test_stage"),
    path("", include("authsuite.urls")),
]
