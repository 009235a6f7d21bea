"""The test settings in a project that names no REST_FRAMEWORK settings: DRF's defaults,
its own AutoSchema as DEFAULT_SCHEMA_CLASS among them (``tests/core/test_api_settings.py``)."""

from tests.settings import *  # noqa: F403

REST_FRAMEWORK: dict = {}
