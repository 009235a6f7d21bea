"""Settings of the accounts app (``AUTHSUITE_ACCOUNTS_*``), each with its default."""

from __future__ import annotations

from authsuite.conf import AppSettings

DEFAULT_RATE_LIMITS = {
    # group: {scope: rate}; a rate is "<count>/<period>" as django-ratelimit reads it.
    # "account_ip" limits one IP's requests for one account; while a pair is over it, its
    # requests stop counting against the account, so one IP cannot use up the account's
    # allowance and keep its owner from getting mail.
    "login": {"ip": "30/5m", "account": "10/5m"},
    "magic_link": {"ip": "20/h", "account_ip": "3/15m", "account": "10/15m"},
    "password_reset": {"ip": "20/h", "account_ip": "3/15m", "account": "10/15m"},
    "signup": {"ip": "20/h", "account_ip": "3/15m", "account": "10/15m"},
    "verification_resend": {"ip": "20/h", "account": "3/15m"},
    "reauthenticate": {"ip": "30/5m", "account": "10/5m"},
    "token_confirm": {"ip": "60/5m"},
}

#: The directives ``Clear-Site-Data`` knows (W3C Clear Site Data, and what browsers ship).
CLEAR_SITE_DATA_DIRECTIVES = frozenset({
    "cache", "cookies", "storage", "executionContexts", "clientHints", "prefetchCache",
    "prerenderCache", "*"})


class AccountsSettings(AppSettings):
    prefix = "AUTHSUITE_ACCOUNTS_"

    @property
    def SIGNUP_OPEN(self) -> bool:
        """Whether anyone may create an account."""
        return bool(self._setting("SIGNUP_OPEN", True))

    @property
    def EMAIL_VERIFICATION(self) -> str:
        """``"mandatory"`` (no sign-in before verifying), ``"optional"`` or ``"none"``."""
        return self._setting("EMAIL_VERIFICATION", "mandatory")

    @property
    def FRONTEND_URLS(self) -> dict[str, str]:
        """Emailed links that open your own front end instead of the suite's pages, by email
        (``magic_link``, ``verify_email``, ``password_reset``, ``passkey_signup``,
        ``reauthenticate``): absolute URLs, https unless DEBUG, holding ``{token}`` once in
        their path, which the front end posts to the JSON API; and by page, without a token
        (``signup``, ``security``, ``alert_preferences``: the sign-up a notice to an unknown
        address offers, the pages every alert links to). See "Your own front end";
        ``authsuite_accounts.E010`` otherwise."""
        return dict(self._setting("FRONTEND_URLS", {}) or {})

    @property
    def SIGNUP_HONEYPOT_FIELD(self) -> str:
        """Name of the hidden signup field that only bots fill in ("" turns it off)."""
        return self._setting("SIGNUP_HONEYPOT_FIELD", "website")

    @property
    def MAGIC_LINK_ENABLED(self) -> bool:
        """Whether users may sign in with a link sent by email."""
        return bool(self._setting("MAGIC_LINK_ENABLED", True))

    @property
    def EMAIL_UNKNOWN_ACCOUNTS(self) -> bool:
        """Whether a sign-in link or password reset asked for an address that gets no link
        mails that address a notice saying why, as a known address gets its link: no account
        has it (template ``accounts/email/unknown_account``, with a sign-up link while
        sign-up is open), its account is disabled (``accounts/email/account_inactive``) or
        it is another address of an account, not the one it signs in with
        (``accounts/email/not_login_address``)."""
        return bool(self._setting("EMAIL_UNKNOWN_ACCOUNTS", True))

    @property
    def MAGIC_LINK_TIMEOUT(self) -> int:
        """Seconds a magic link stays valid; a request for one still unanswered by the
        mail worker that long after it was made is dropped unanswered."""
        return int(self._setting("MAGIC_LINK_TIMEOUT", 600))

    @property
    def PASSWORD_RESET_TIMEOUT(self) -> int:
        """Seconds a password-reset link stays valid; a request for one still unanswered
        by the mail worker that long after it was made is dropped unanswered."""
        return int(self._setting("PASSWORD_RESET_TIMEOUT", 3600))

    @property
    def EMAIL_VERIFICATION_TIMEOUT(self) -> int:
        """Seconds an email-verification link stays valid."""
        return int(self._setting("EMAIL_VERIFICATION_TIMEOUT", 86400))

    @property
    def LOGIN_TIMEOUT(self) -> int:
        """Seconds a sign-in may wait between its first factor and its last stage."""
        return int(self._setting("LOGIN_TIMEOUT", 900))

    @property
    def LOGIN_REDIRECT_URL(self) -> str:
        """Where a completed sign-in goes when no safe ``next`` was given: Django's
        LOGIN_REDIRECT_URL when the project sets one other than Django's default
        (``/accounts/profile/``, a page the suite does not have), else the suite's account
        page (``accounts:profile``). A URL name is resolved, and only when it is needed: a
        sign-in with a safe ``next`` neither reads nor resolves it; a name that is no URL
        pattern of the root URLconf is warned of at startup (``authsuite_accounts.W005``)."""
        from django.conf import global_settings
        from django.shortcuts import resolve_url

        target = self._setting("LOGIN_REDIRECT_URL", None) or self._django("LOGIN_REDIRECT_URL")
        if not target or target == global_settings.LOGIN_REDIRECT_URL:
            target = "accounts:profile"
        return resolve_url(target)

    @property
    def LOGOUT_REDIRECT_URL(self) -> str:
        """Where a sign-out goes when no safe ``next`` was given: Django's
        LOGOUT_REDIRECT_URL when the project sets one (a URL pattern's name or a path), else
        the suite's sign-in page (``accounts:login``). A URL name is resolved when a sign-out
        needs it."""
        from django.shortcuts import resolve_url

        target = self._setting("LOGOUT_REDIRECT_URL", None) or self._django("LOGOUT_REDIRECT_URL")
        return resolve_url(target or "accounts:login")

    @property
    def REAUTHENTICATION_TIMEOUT(self) -> int:
        """Seconds after an authentication during which sensitive actions need no re-entry."""
        return int(self._setting("REAUTHENTICATION_TIMEOUT", 300))

    @property
    def MFA_ASSURANCE_MAX_AGE(self) -> int:
        """Seconds after its factors were last proven during which a session vouches for a
        multi-factor ``acr`` (mfa, phr); past them it vouches for one factor until they are
        proven again (SP 800-63B-4, AAL2: at least every 24 hours)."""
        return int(self._setting("MFA_ASSURANCE_MAX_AGE", 86400))

    @property
    def SESSION_IDLE_TIMEOUT(self) -> int:
        """Seconds without a request after which a session ends."""
        return int(self._setting("SESSION_IDLE_TIMEOUT", 3600))

    @property
    def SESSION_ABSOLUTE_TIMEOUT(self) -> int:
        """Seconds after sign-in after which a session ends, however active."""
        return int(self._setting("SESSION_ABSOLUTE_TIMEOUT", 12 * 3600))

    @property
    def REMEMBER_IDLE_TIMEOUT(self) -> int:
        """Idle timeout of a "keep me signed in" session."""
        return int(self._setting("REMEMBER_IDLE_TIMEOUT", 7 * 86400))

    @property
    def REMEMBER_ABSOLUTE_TIMEOUT(self) -> int:
        """Absolute timeout of a "keep me signed in" session."""
        return int(self._setting("REMEMBER_ABSOLUTE_TIMEOUT", 30 * 86400))

    @property
    def SESSION_TOUCH_INTERVAL(self) -> int:
        """Seconds between two writes of a session's "last seen" time."""
        return int(self._setting("SESSION_TOUCH_INTERVAL", 60))

    @property
    def MAX_SESSIONS(self) -> int | None:
        """Sessions one account may have open at once (None: no limit). A sign-in past it
        ends the account's least recently used other sessions, so the newest always goes
        through. An integer of at least 1 (``authsuite_accounts.E013``)."""
        return self._setting("MAX_SESSIONS", None)

    @property
    def CLEAR_SITE_DATA(self) -> tuple[str, ...]:
        """What a browser is told to clear (``Clear-Site-Data``) on the answer to the
        request that ended its signed-in session: a sign-out, ending this session or all of
        them, closing the account, a timeout or a session ended elsewhere found at its next
        request. Directive names, unquoted (``"storage"``: local and session storage,
        IndexedDB, service workers; ``"cache"``; ``"cookies"``...), a list or tuple of
        known ones (``authsuite_accounts.E019``); empty sends no header."""
        return self._setting("CLEAR_SITE_DATA", ("storage",))

    @property
    def RATE_LIMITS(self) -> dict[str, dict[str, str | None]]:
        """Rate limits per flow and scope, merged over the defaults; None disables one.
        Scopes: ``ip``, ``account`` and ``account_ip`` (one IP's requests for one account;
        while a pair is over it, its requests stop counting for the account)."""
        configured = self._setting("RATE_LIMITS", {})
        return {
            group: {**scopes, **configured.get(group, {})}
            for group, scopes in DEFAULT_RATE_LIMITS.items()
        }

    @property
    def LOCKOUT_THRESHOLD(self) -> int:
        """Failed sign-ins for one account from one IP before that pair is locked."""
        return int(self._setting("LOCKOUT_THRESHOLD", 5))

    @property
    def LOCKOUT_ACCOUNT_THRESHOLD(self) -> int:
        """Failed sign-ins for one account from all IPs before the account is locked."""
        return int(self._setting("LOCKOUT_ACCOUNT_THRESHOLD", 20))

    @property
    def LOCKOUT_CONSECUTIVE_LIMIT(self) -> int:
        """Failed password checks in a row on one account, from any IP and at any pace, after
        which its password is refused until it signs in another way (emailed link, passkey),
        resets the password or staff unlock it (1 to 100: NIST SP 800-63B-4;
        ``authsuite_accounts.E009`` otherwise)."""
        return int(self._setting("LOCKOUT_CONSECUTIVE_LIMIT", 100))

    @property
    def LOCKOUT_DEVICE_COOKIE_DAYS(self) -> int:
        """Days a browser stays known to the lockout after a sign-in in it (0: off). A
        known browser's password checks count on their own, so the owner still signs in
        from it while others' guesses lock the account or reach the consecutive limit."""
        return int(self._setting("LOCKOUT_DEVICE_COOKIE_DAYS", 365))

    @property
    def LOCKOUT_DEVICE_COOKIE_NAME(self) -> str:
        """Name of the cookie that makes a browser known to the lockout
        (``__Host-authsuite_device`` in the production profile; Secure whenever the request
        is HTTPS, ``SESSION_COOKIE_SECURE`` is on or the name starts with ``__Host-`` or
        ``__Secure-``)."""
        return str(self._setting("LOCKOUT_DEVICE_COOKIE_NAME", "authsuite_device"))

    @property
    def LOCKOUT_BASE(self) -> int:
        """Seconds of the first lockout; each further lockout doubles it."""
        return int(self._setting("LOCKOUT_BASE", 60))

    @property
    def LOCKOUT_MAX(self) -> int:
        """Longest lockout in seconds, so nobody can lock an account out for good."""
        return int(self._setting("LOCKOUT_MAX", 900))

    @property
    def LOCKOUT_RESET_AFTER(self) -> int:
        """Seconds without a failure after which the failure history is forgotten."""
        return int(self._setting("LOCKOUT_RESET_AFTER", 86400))

    @property
    def MAX_EMAIL_ADDRESSES(self) -> int:
        """Email addresses one account may hold."""
        return int(self._setting("MAX_EMAIL_ADDRESSES", 5))

    @property
    def CLOSE_ACTION(self) -> str:
        """What closing an account does: ``"delete"`` or ``"deactivate"`` (needs an
        ``is_active`` column on the user model: ``authsuite_accounts.E011``)."""
        return self._setting("CLOSE_ACTION", "delete")

    @property
    def BREACHED_PASSWORD_CHECKER(self) -> str | None:
        """Dotted path of a breached-password checker class
        (``accounts.passwords.PwnedPasswordsChecker``, ``accounts.passwords.LocalListChecker``
        or a project's own), or None for no check."""
        return self._setting("BREACHED_PASSWORD_CHECKER", None)

    @property
    def BREACHED_PASSWORD_FILE(self) -> str | None:
        """File of SHA-1 hashes (one per line, ``HASH`` or ``HASH:COUNT``) for the local checker."""
        return self._setting("BREACHED_PASSWORD_FILE", None)

    @property
    def BREACHED_PASSWORD_API_URL(self) -> str:
        """Base URL of the Pwned Passwords range API that ``accounts.passwords.PwnedPasswordsChecker``
        asks (``<url>/range/<the first 5 hex digits of the password's SHA-1>``), or of a
        mirror answering the same: https unless DEBUG (``authsuite_accounts.E014``)."""
        return self._setting("BREACHED_PASSWORD_API_URL", "https://api.pwnedpasswords.com")

    @property
    def BREACHED_PASSWORD_API_TIMEOUT(self) -> float:
        """Seconds the range API check may take in all (the name lookup, connecting, the
        answer however slowly it arrives): a check still waiting then is given up on, and
        counts as unavailable. A number above 0 (``authsuite_accounts.E015``)."""
        return self._setting("BREACHED_PASSWORD_API_TIMEOUT", 2.0)

    @property
    def BREACHED_PASSWORD_MIN_COUNT(self) -> int:
        """Times a password must have been seen in breaches for the range API check to
        refuse it: 1 refuses any sighting; a password seen fewer times is accepted. An
        integer of at least 1 (``authsuite_accounts.E016``)."""
        return self._setting("BREACHED_PASSWORD_MIN_COUNT", 1)

    @property
    def BREACHED_PASSWORD_WHEN_UNAVAILABLE(self) -> str:
        """What the breached-password check does when it cannot be made (the range API timed
        out, refused the connection, answered an HTTP error or an unreadable body):
        ``"accept"`` accepts the password and logs a warning, so that a third party's outage
        stops no sign-up; ``"refuse"`` refuses it, saying the check could not be made (a
        form error; ``password_check_unavailable``, 503, over the API). One of the two
        (``authsuite_accounts.E017``)."""
        return self._setting("BREACHED_PASSWORD_WHEN_UNAVAILABLE", "accept")

    @property
    def ARGON2_MEMORY_COST(self) -> int:
        """Argon2id memory in KiB (OWASP minimum 19456)."""
        return int(self._setting("ARGON2_MEMORY_COST", 19456))

    @property
    def ARGON2_TIME_COST(self) -> int:
        """Argon2id iterations (OWASP minimum 2 at 19 MiB)."""
        return int(self._setting("ARGON2_TIME_COST", 2))

    @property
    def ARGON2_PARALLELISM(self) -> int:
        """Argon2id lanes."""
        return int(self._setting("ARGON2_PARALLELISM", 1))


app_settings = AccountsSettings()
