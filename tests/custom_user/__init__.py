"""A project's own user model in an app of its own, for tests.settings_custom_user."""
