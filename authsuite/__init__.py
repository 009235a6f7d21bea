"""authsuite: accounts, MFA, passkeys, OIDC, roles and a tamper-evident audit log for Django."""

__version__ = "0.1.0"
