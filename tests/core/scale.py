"""A PostgreSQL database filled as a large site's is, in seconds, and the plans of its queries.

``fill`` writes rows straight into the suite's tables with ``INSERT ... SELECT
generate_series``: accounts with two addresses each, tracked sessions, audit events, a busy
outbox, passkeys, sign-in throttles, links and trusted browsers, then ANALYZEs them, so the
planner sees the table sizes a busy site has. The rows are plausible, not made by the
flows: no MAC on the events, no seals, no real keys. The tests read them through the admin
and the users' own pages, capture every statement and EXPLAIN it (``plans``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection

EVENT_ACTIONS = [
    "accounts.login.succeeded", "accounts.login.failed", "accounts.logout",
    "accounts.session.ended", "accounts.email.added", "accounts.email.verified",
    "accounts.password.changed", "mfa.totp.added", "mfa.challenge.failed",
    "passkeys.added", "passkeys.used", "ratelimit.hit",
]
TEMPLATES = ["accounts/email/magic_link", "accounts/email/verify_email",
             "accounts/email/password_reset", "audit/email/alert"]


@dataclass(frozen=True)
class Sizes:
    users: int = 300_000
    sessions: int = 200_000
    events: int = 2_000_000
    outbox: int = 500_000
    passkeys: int = 100_000
    throttles: int = 50_000
    tokens: int = 200_000
    pending_signups: int = 20_000
    trusted_browsers: int = 50_000

    def scaled(self, factor: float) -> Sizes:
        return Sizes(**{name: max(1, int(value * factor)) for name, value in vars(self).items()})


#: The user model's columns the filler sets, by field name; another required column (a
#: project's own model) means it cannot fill the table.
USER_COLUMNS = {
    "password": "'!'",
    "last_login": "CASE WHEN g % 3 = 0 THEN NULL ELSE now() - (g % 2000) * interval '1 hour' END",
    "is_superuser": "false",
    "email": "'member' || g || '@example.com'",
    "username": "'member' || g",
    "name": "'Person ' || g",
    "first_name": "'Person'",
    "last_name": "'' || g",
    "is_staff": "g % 1000 = 0",
    "is_active": "g % 50 <> 25",
    "date_joined": "now() - g * interval '1 minute'",
}


def fillable() -> str | None:
    """Why the project's user model cannot be filled, or None."""
    model = get_user_model()
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.has_default() or field.db_default is not None:
            continue
        if field.name not in USER_COLUMNS:
            return f"the user model's {field.name!r} is not filled here"
    return None


def _users(sizes: Sizes) -> str:
    model = get_user_model()
    names = [f for f in model._meta.concrete_fields
             if not f.primary_key and f.name in USER_COLUMNS]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in names)
    values = ", ".join(USER_COLUMNS[f.name] for f in names)
    return (f"INSERT INTO {model._meta.db_table} ({columns}) "  # noqa: S608
            f"SELECT {values} FROM generate_series(1, {sizes.users}) g")


def fill(sizes: Sizes) -> int:
    """Fill the suite's tables to ``sizes``; returns the first user's id (user ``g`` of the
    series has id ``first + g - 1`` and the address ``member<g>@example.com``)."""
    users = get_user_model()._meta.db_table
    statements = [_users(sizes)]
    with connection.cursor() as cursor:
        cursor.execute(statements[0])
        cursor.execute(f"SELECT min(id) FROM {users}")  # noqa: S608
        first = cursor.fetchone()[0]
        n = sizes.users
        uid = f"({first} + (g % {n}))"  # a user id from a series number
        rows = [
            # Every account: its login address (verified but for one in five) and another.
            f"""INSERT INTO accounts_emailaddress (user_id, email, verified, "primary",
                    created_at, verified_at)
                SELECT {first} + g - 1, 'member' || g || '@example.com', g % 5 <> 0, true,
                    now() - g * interval '1 minute',
                    CASE WHEN g % 5 <> 0 THEN now() - g * interval '1 minute' END
                FROM generate_series(1, {n}) g""",
            f"""INSERT INTO accounts_emailaddress (user_id, email, verified, "primary",
                    created_at, verified_at)
                SELECT {first} + g - 1, 'alt' || g || '@example.org', g % 4 = 0, false,
                    now() - g * interval '30 second', NULL
                FROM generate_series(1, {n}) g""",
            # Sessions: a quarter open, the rest ended.
            f"""INSERT INTO accounts_usersession (user_id, key_digest, created_at, last_seen_at,
                    ip, user_agent, device, remember, ended_at, end_reason)
                SELECT {uid.replace('g %', '(g * 7) %')}, md5(g::text) || md5(g::text),
                    now() - (g % 90) * interval '1 day',
                    now() - (g % 90) * interval '1 day' + interval '1 hour',
                    ('192.0.2.' || (g % 250))::inet, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
                    'Firefox 128 on Linux', g % 3 = 0,
                    CASE WHEN g % 4 = 0 THEN NULL ELSE now() - (g % 90) * interval '1 day'
                        + interval '2 hour' END,
                    CASE WHEN g % 4 = 0 THEN '' ELSE 'logout' END
                FROM generate_series(1, {sizes.sessions}) g""",
            # Events, oldest first (ids follow time); one in three done to an account.
            f"""INSERT INTO audit_event (uid, occurred_at, actor_id, actor_repr, action, outcome,
                    target_type, target_id, target_repr, ip, user_agent, request_id,
                    session_ref, data, mac)
                SELECT md5(g::text)::uuid,
                    now() - ({sizes.events} - g) * interval '5 second',
                    CASE WHEN g % 10 = 0 THEN '' ELSE {uid}::text END,
                    CASE WHEN g % 10 = 0 THEN '' ELSE 'member' || (g % {n} + 1) || '@example.com' END,
                    (ARRAY{EVENT_ACTIONS!r})[g % {len(EVENT_ACTIONS)} + 1],
                    CASE WHEN g % 7 = 0 THEN 'failure' ELSE 'success' END,
                    CASE WHEN g % 3 = 0 THEN 'user' ELSE '' END,
                    CASE WHEN g % 3 = 0 THEN {uid}::text ELSE '' END,
                    CASE WHEN g % 3 = 0 THEN 'member' || (g % {n} + 1) || '@example.com' ELSE '' END,
                    '10.' || (g % 250) || '.' || (g / 250 % 250) || '.1',
                    'Mozilla/5.0 Firefox/128.0', md5(g::text), '',
                    '{{}}', md5(g::text) || md5(g::text)
                FROM generate_series(1, {sizes.events}) g""",
            # The outbox: mostly delivered, some failed, a few waiting.
            f"""INSERT INTO authsuite_outboxmessage (template, resolver, guard, "to", user_id,
                    context, language, sealed_context, secret_erased, status, attempts,
                    next_attempt_at, claimed_at, last_error, created_at, expires_at, sent_at)
                SELECT (ARRAY{TEMPLATES!r})[g % {len(TEMPLATES)} + 1], '', '',
                    'member' || (g % {n} + 1) || '@example.com', {uid}, '{{}}', '', '', false,
                    CASE WHEN g % 100 = 0 THEN 'pending' WHEN g % 100 < 9 THEN 'failed'
                        ELSE 'sent' END,
                    CASE WHEN g % 100 = 0 THEN 0 ELSE 1 END,
                    now() - ({sizes.outbox} - g) * interval '6 second', NULL,
                    CASE WHEN g % 100 BETWEEN 1 AND 8 THEN 'Connection refused' ELSE '' END,
                    now() - ({sizes.outbox} - g) * interval '6 second', NULL,
                    CASE WHEN g % 100 >= 9 THEN now() - ({sizes.outbox} - g) * interval '6 second'
                        + interval '2 second' END
                FROM generate_series(1, {sizes.outbox}) g""",
            f"""INSERT INTO passkeys_passkey (user_id, credential_id, public_key, sign_count,
                    aaguid, name, transports, attestation_format, backup_eligible,
                    backup_state, user_verified, created_at, last_used_at, flagged_at)
                SELECT {uid.replace('g %', '(g * 3) %')}, 'cred-' || g, '\\x00'::bytea, 0, '',
                    'Key ' || g, '[]', 'none', g % 2 = 0, g % 2 = 0, true,
                    now() - g * interval '1 minute', NULL,
                    CASE WHEN g % 1000 = 0 THEN now() END
                FROM generate_series(1, {sizes.passkeys}) g""",
            f"""INSERT INTO accounts_loginthrottle (identifier, ip, failures, lockouts,
                    locked_until, last_failure_at, consecutive_failures)
                SELECT 'member' || (g % {n} + 1) || '@example.com',
                    CASE WHEN g % 2 = 0 THEN '' ELSE '203.0.113.' || (g % 250) END,
                    g % 5, 0, CASE WHEN g % 500 = 0 THEN now() + interval '10 minute' END,
                    now() - (g % 60) * interval '1 day', g % 3
                FROM generate_series(1, {sizes.throttles}) g
                ON CONFLICT DO NOTHING""",
            f"""INSERT INTO accounts_onetimetoken (purpose, user_id, email, digest, created_at,
                    expires_at, used_at, voided_at)
                SELECT 'magic_link', {uid}, 'member' || (g % {n} + 1) || '@example.com',
                    md5(g::text) || md5(g::text), now() - g * interval '1 minute',
                    now() - g * interval '1 minute' + interval '15 minute',
                    CASE WHEN g % 2 = 0 THEN now() - g * interval '1 minute' END, NULL
                FROM generate_series(1, {sizes.tokens}) g""",
            f"""INSERT INTO passkeys_pendingsignup (email, name, handle, digest, created_at,
                    expires_at, used_at, voided_at)
                SELECT 'new' || g || '@example.net', '', 'h' || g, md5(g::text) || md5(g::text),
                    now() - g * interval '1 minute', now() - g * interval '1 minute'
                        + interval '1 hour',
                    CASE WHEN g % 2 = 0 THEN now() END, NULL
                FROM generate_series(1, {sizes.pending_signups}) g""",
            f"""INSERT INTO mfa_trustedbrowser (user_id, digest, user_agent, device, ip,
                    created_at, expires_at, last_used_at)
                SELECT {uid}, md5(g::text), '', 'Firefox', NULL, now() - g * interval '1 minute',
                    now() - g * interval '1 minute' + interval '30 day', NULL
                FROM generate_series(1, {sizes.trusted_browsers}) g""",
        ]
        for sql in rows:
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    return first


def filled_tables() -> list[str]:
    """The tables ``fill`` writes, for emptying them afterwards."""
    return [get_user_model()._meta.db_table, "accounts_emailaddress", "accounts_usersession",
            "audit_event", "authsuite_outboxmessage", "passkeys_passkey",
            "accounts_loginthrottle", "accounts_onetimetoken", "passkeys_pendingsignup",
            "mfa_trustedbrowser"]


def empty() -> None:
    """Remove every row of the tables ``fill`` wrote (and of the tables referring to them)."""
    tables = [t for t in filled_tables() if t in connection.introspection.table_names()]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


@dataclass
class Plan:
    sql: str
    text: str

    def seq_scans(self, tables) -> set[str]:
        """The tables of ``tables`` the plan reads whole."""
        return {t for t in re.findall(r"Seq Scan on (\w+)", self.text) if t in tables}

    def rows_filtered_out(self, tables) -> int:
        """The most rows one step of the plan read from a table of ``tables`` and threw away
        (``EXPLAIN ANALYZE``): an index walked in order past every row a filter refuses
        reads the table whole too."""
        most, table = 0, None
        for line in self.text.splitlines():
            if node := re.search(r" on (\w+)", line):
                table = node.group(1)
            removed = re.search(r"Rows Removed by Filter: (\d+)", line)
            if removed and table in tables:
                most = max(most, int(removed.group(1)))
        return most


def plans(captured) -> list[Plan]:
    """``EXPLAIN ANALYZE`` of each SELECT in ``captured`` (a ``CaptureQueriesContext``)."""
    found = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, TIMING OFF) " + sql)
            found.append(Plan(sql, "\n".join(row[0] for row in cursor.fetchall())))
    return found


def model_table(label: str) -> str:
    return apps.get_model(label)._meta.db_table
