"""Flows hold the accounts logic; HTML views, API views, admin actions and commands call them."""
