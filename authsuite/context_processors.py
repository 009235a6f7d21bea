from authsuite.app_settings import app_settings


def authsuite(request):
    return {"authsuite_site_name": app_settings.SITE_NAME}
