from __future__ import annotations

import unicodedata

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from accounts.scripts import staff_spelling
from authsuite.useragent import row_device_label


def normalize_email(email: str) -> str:
    """The one normal form of an address: trimmed, lower-cased as a whole, in Unicode's
    compatibility form (NFKC), with an internationalized domain spelled one way.

    Addresses compare in this form everywhere in the suite, so ``Ann@X.org``, ``ann@x.org``,
    ``ann@ｘ.org`` (full-width letters) and ``ann@xn--...`` against its Unicode spelling,
    which all reach one mailbox, can never be two accounts nor two rate-limit counters.
    """
    email = (email or "").strip()
    lowered = email.lower()
    if email.isascii() and "xn--" not in lowered:
        return lowered  # nearly every address: nothing else to fold
    email = unicodedata.normalize("NFKC", email).lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    try:
        # The spelling IDNA gives it back, as mail to it is sent (Django encodes the
        # domain the same way): case and width folded, punycode labels decoded.
        domain = domain.encode("idna").decode("idna")
    except UnicodeError:
        pass  # not a valid domain: the address is refused wherever it is validated
    return f"{local}@{domain}"


def validate_mail_domain(email: str) -> None:
    """Refuse an address whose domain has no spelling mail can use (IDNA): Django encodes
    it so when it sends, and no message to it could ever leave. Django's own validator
    lets such domains through (a lone surrogate decoded as U+FFFD, a label too long once
    encoded)."""
    domain = email.rpartition("@")[2]
    if domain.isascii():
        return
    try:
        domain.encode("idna")
    except UnicodeError:
        raise ValidationError(_("Enter a valid email address."), code="invalid") from None


def validate_public_domain(email: str) -> None:
    """Refuse, for a new address, a domain mail from a public service cannot reach: a single
    label (``localhost``, an intranet name: RFC 7085) or an address literal
    (``[127.0.0.1]``), both of which Django's validator accepts, and mail to which would go
    to the server's own network. Only where an address is registered (sign-up, adding one,
    staff typing one): accounts that have such an address already (``createsuperuser``
    accepts one) still sign in and reset their password with it."""
    domain = email.rpartition("@")[2]
    if domain.startswith("[") or "." not in domain.strip("."):
        raise ValidationError(_("Enter a valid email address."), code="invalid")


class UserManager(BaseUserManager):
    use_in_migrations = True

    # raw_password: Django's set_password, below, holds the password under that name.
    @sensitive_variables("password", "raw_password")
    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    @sensitive_variables("password")
    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    @sensitive_variables("password")
    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))


class User(AbstractBaseUser, PermissionsMixin):
    """The suite's user: the email address is the login; no username."""

    email = models.EmailField(_("email address"), max_length=254, unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    # Emails are stored in normal form, so lookups can use the unique index directly.
    EMAIL_IS_NORMALIZED = True

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        # Like django.contrib.auth's User: this model exists only while it is the project's
        # AUTH_USER_MODEL. A project on any other user model gets no accounts_user table.
        swappable = "AUTH_USER_MODEL"
        indexes = [
            # The admin's list, newest first: read in index order, not sorted whole.
            models.Index(fields=["date_joined", "id"], name="accounts_user_joined"),
            # Its filters of the few: disabled accounts, staff.
            models.Index(fields=["date_joined", "id"], name="accounts_user_inactive",
                         condition=Q(is_active=False)),
            models.Index(fields=["date_joined", "id"], name="accounts_user_staff",
                         condition=Q(is_staff=True)),
            # The admin's search by name, whole and case-insensitive (``name__iexact``).
            models.Index(Upper("name"), name="accounts_user_name_upper"),
        ]

    def __str__(self) -> str:
        # How the admin names the account (its pages, messages, history, delete
        # confirmation): a look-alike address shows as one (``staff_spelling``).
        return staff_spelling(self.email)

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email.split("@")[0]


class EmailAddress(models.Model):
    """An address of an account.

    An address may sit unverified on several accounts (anyone can type any address), but
    only one account holds it verified: verifying it removes the other accounts' unverified
    rows (``accounts.flows.email.mark_verified``). So typing someone's address reserves
    nothing and tells nothing.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_addresses"
    )
    email = models.EmailField(max_length=254)
    verified = models.BooleanField(default=False)
    primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-primary", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(primary=True), name="accounts_one_primary_email"
            ),
            models.UniqueConstraint(
                fields=["email"], condition=Q(verified=True), name="accounts_one_verified_email",
                violation_error_message=_("Another account has verified this address."),
            ),
            models.UniqueConstraint(fields=["user", "email"], name="accounts_email_once_per_user"),
            # One account signs in with an address, verified or not yet: on a user model
            # whose email is not unique (django.contrib.auth's), two sign-ups of one address
            # at once must not both succeed.
            models.UniqueConstraint(
                fields=["email"], condition=Q(primary=True), name="accounts_one_primary_owner",
                violation_error_message=_("Another account signs in with this address."),
            ),
        ]
        indexes = [models.Index(fields=["email"], name="accounts_email_lookup")]
        verbose_name = _("email address")
        verbose_name_plural = _("email addresses")

    def __str__(self) -> str:
        # As the admin names the row (the account's page, messages, history, delete
        # confirmation): a look-alike address shows as one.
        return staff_spelling(self.email)

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class OneTimeToken(models.Model):
    """A single-use secret sent by email; only its keyed digest is stored."""

    class Purpose(models.TextChoices):
        MAGIC_LINK = "magic_link", _("Magic link")
        VERIFY_EMAIL = "verify_email", _("Email verification")
        PASSWORD_RESET = "password_reset", _("Password reset")
        #: Completes a sign-up whose account stays inactive until then (passkey sign-up).
        SIGNUP = "signup", _("Sign-up completion")
        #: Confirms it is the signed-in user, in the browser that asked (no password).
        REAUTHENTICATE = "reauthenticate", _("Reauthentication")

    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(max_length=254)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "purpose"], name="accounts_token_user_purpose"),
            # Verifying an address voids the other accounts' links to it.
            models.Index(fields=["email", "purpose"], name="accounts_token_email_purpose"),
            # The periodic task voids the live links of disabled accounts.
            models.Index(fields=["expires_at"], name="accounts_token_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} for user {self.user_id}"


class UserSession(models.Model):
    """One signed-in browser or API client session, as its user sees it in the session list.

    The session key itself is never stored here (only a keyed digest): the session store
    already holds it, and a leaked copy of this table must not let anyone hijack a session.
    """

    # No index of its own: ``accounts_session_user_active`` (user, ended_at) serves every
    # lookup by user and the delete of an account's rows. Each sign-in inserts a row, and
    # each index is one more write.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions",
        db_index=False,
    )
    # Kept to match a session key to its row by hand (a forensic question), never looked up
    # by the suite: no index.
    key_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    device = models.CharField(max_length=200, blank=True, default="")
    remember = models.BooleanField(default=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [models.Index(fields=["user", "ended_at"], name="accounts_session_user_active")]

    def __str__(self) -> str:
        return f"{self.device or 'session'} ({self.user_id})"

    @property
    def device_label(self) -> str:
        """The device, as pages and the API show it: in the active language
        (``device`` keeps it in English)."""
        return row_device_label(self.user_agent, self.device)

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class LoginThrottle(models.Model):
    """Failed sign-ins for one identifier from one IP, or from all IPs (``ip=""``).

    Keyed by the typed identifier rather than the user, so that unknown addresses lock
    exactly like known ones and the lockout message reveals nothing.
    """

    ACCOUNT_WIDE = ""

    identifier = models.CharField(max_length=254)
    ip = models.CharField(max_length=45, blank=True, default="")
    failures = models.PositiveIntegerField(default=0)
    lockouts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(default=timezone.now)
    # A column added after the table's first release has a database default too (db_default):
    # during an upgrade the previous version's processes insert rows without it.
    #: On the account-wide row: failed password checks in a row from any IP, forgotten only
    #: on a success (any sign-in, a reset, staff unlock), never with time.
    consecutive_failures = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["identifier", "ip"], name="accounts_throttle_unique")
        ]

    def __str__(self) -> str:
        # As the admin names the row (its page's title): a look-alike address shows as one.
        identifier = staff_spelling(self.identifier)
        if self.ip.startswith("device:"):
            return f"{identifier} from a browser it signed in with"
        return f"{identifier} from {self.ip or 'any IP'}"


class PasswordChangeRequired(models.Model):
    """Staff asked this user to choose a new password at their next sign-in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"password change required for {self.user_id}"


class PasswordRehash(models.Model):
    """A stored password brought up to date (a new hasher or new parameters) by a sign-in
    that checked it: the same password under a new hash.

    Sessions, sign-ins in progress and trusted browsers are bound to the password through
    its session auth hash, which the new hash changes. ``previous`` is the session auth hash
    of the old hash and ``current`` that of the hash that replaced it; while the account's
    own still equals ``current`` (a later rehash moves the row along, a changed password
    leaves it behind for good), what was bound to ``previous`` stays valid
    (``accounts.credentials``).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    previous = models.CharField(max_length=128)
    current = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "current"], name="accounts_rehash_user_current")]

    def __str__(self) -> str:
        return f"password of {self.user_id} rehashed at {self.created_at:%Y-%m-%d %H:%M}"
