"""Tracking of signed-in sessions: what users see at /accounts/sessions/ and can end.

Each authenticated session points (``_authsuite_sid``) at a :class:`UserSession` row. The
middleware checks that row on every request, so ending a session, from any process and for
any session backend, takes effect on that session's next request; it also enforces the idle
and absolute timeouts on the server, whatever the cookie says.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import lockout, signals
from accounts.app_settings import CLEAR_SITE_DATA_DIRECTIVES, app_settings
from accounts.models import OneTimeToken, UserSession
from accounts.users import lock_user_row, stores_is_active
from authsuite import context, crypto, db
from authsuite.useragent import device_name

SID_KEY = "_authsuite_sid"


def _digest(session_key: str) -> str:
    return crypto.token_digest(session_key or "", purpose="session")


def session_start(request, user, *, remember: bool) -> int:
    """Record the session the login pipeline just authenticated (its key already rotated);
    returns the new row's id."""
    if not request.session.session_key:
        request.session.save()
    ctx = context.current()
    now = timezone.now()
    values = {
        "user_id": user.pk, "key_digest": _digest(request.session.session_key),
        "created_at": now, "last_seen_at": now, "ip": ctx.ip, "user_agent": ctx.user_agent,
        "device": device_name(ctx.user_agent), "remember": remember, "ended_at": None,
        "end_reason": "",
    }
    # Compiled once (authsuite.db): every sign-in inserts one.
    pk = db.insert(UserSession, using=router.db_for_write(UserSession), values=values)
    request.session[SID_KEY] = pk
    return pk


def sessions_limit(request, user, *, replaced: int | None = None) -> int:
    """End ``user``'s least recently used sessions past ``MAX_SESSIONS``, keeping the one
    this request just started (ASVS 5.0 7.1.2), and the session ``replaced``: the one this
    browser had until it signed in again (its key rotated, or its data flushed for another
    account), which nothing can use any more. Returns how many it ended.

    The newest sign-in wins rather than being refused: refusing it would let whoever holds
    the account's other sessions keep its owner out. A replaced session left open would be
    listed and counted as another one, and kept over a real one the limit then ended.
    """
    current = current_session_id(request)
    old = None
    if replaced is not None and replaced != current:
        old = (UserSession.objects.filter(pk=replaced, ended_at__isnull=True)
               .select_related("user").first())
    surplus = []
    limit = app_settings.MAX_SESSIONS
    if limit is not None:
        others = sessions_alive(user).exclude(pk=current)
        if old is not None:
            others = others.exclude(pk=old.pk)
        surplus = list(others.order_by("-last_seen_at", "-pk").values_list("pk", flat=True)
                       [limit - 1:])
    if old is None and not surplus:
        return 0
    with transaction.atomic():
        # Every row to end locked first, together, in key order as every request that ends
        # sessions locks them. One at a time (the replaced one, then the least recently
        # used), the sign-in would hold a row while waiting for another that such a
        # request (the user's "end other sessions", staff's "end all sessions") holds while
        # waiting for the first: a deadlock.
        rows = [*surplus, *([old.pk] if old is not None else [])]
        list(UserSession.objects.select_for_update().filter(pk__in=rows).order_by("pk")
             .values_list("pk", flat=True))
        ended = 0
        if old is not None:
            ended += sessions_end(old.user, request=request, reason="replaced", only=old.pk)
        if surplus:
            ended += sessions_end(user, request=request, reason="session_limit", only=surplus)
    return ended


def session_write(request) -> None:
    """Write the session now, in the caller's transaction, when its store does not write
    again what it has written (``accounts.session_store``): the row then commits with the
    flow's other writes, and the middleware's save after it costs nothing. Other stores
    are left to the middleware, which would otherwise write the same data twice.
    """
    if getattr(request.session, "writes_once", False):
        request.session.save()


def timeouts(row: UserSession) -> tuple[int, int]:
    if row.remember:
        return app_settings.REMEMBER_IDLE_TIMEOUT, app_settings.REMEMBER_ABSOLUTE_TIMEOUT
    return app_settings.SESSION_IDLE_TIMEOUT, app_settings.SESSION_ABSOLUTE_TIMEOUT


def expiry_reason(row: UserSession, now) -> str | None:
    idle, absolute = timeouts(row)
    if now - row.last_seen_at > timedelta(seconds=idle):
        return "idle_timeout"
    if now - row.created_at > timedelta(seconds=absolute):
        return "absolute_timeout"
    return None


def sessions_alive(user, now=None):
    """``user``'s sessions that can still be used: not ended and within both timeouts.

    A session whose browser never comes back (closed, cookie expired) is never seen by the
    middleware again, so its row is never ended; it must not be listed as signed in.
    """
    now = now or timezone.now()

    def within(remember: bool, idle: int, absolute: int) -> Q:
        return Q(remember=remember, last_seen_at__gte=now - timedelta(seconds=idle),
                 created_at__gte=now - timedelta(seconds=absolute))

    return UserSession.objects.filter(user=user, ended_at__isnull=True).filter(
        within(False, app_settings.SESSION_IDLE_TIMEOUT, app_settings.SESSION_ABSOLUTE_TIMEOUT)
        | within(True, app_settings.REMEMBER_IDLE_TIMEOUT, app_settings.REMEMBER_ABSOLUTE_TIMEOUT)
    )


def sessions_expire(now=None) -> int:
    """Mark sessions past their idle or absolute timeout, and those of disabled users, as
    ended, and void disabled users' unused links (periodic task).

    Their browsers may never come back to be signed out by the middleware; this keeps the
    session list, the data export and the audit trail truthful.
    """
    now = now or timezone.now()
    ended = 0
    for remember, (idle, absolute) in (
        (False, (app_settings.SESSION_IDLE_TIMEOUT, app_settings.SESSION_ABSOLUTE_TIMEOUT)),
        (True, (app_settings.REMEMBER_IDLE_TIMEOUT, app_settings.REMEMBER_ABSOLUTE_TIMEOUT)),
    ):
        base = UserSession.objects.filter(ended_at__isnull=True, remember=remember)
        for reason, expired in (
            ("idle_timeout", base.filter(last_seen_at__lt=now - timedelta(seconds=idle))),
            ("absolute_timeout", base.filter(created_at__lt=now - timedelta(seconds=absolute))),
        ):
            ended += _end_rows(expired, reason, now)
    if stores_is_active():
        # Users disabled without their save signals (a bulk update()): their sessions end
        # here even if their browsers never come back, so enabling them again revives none.
        disabled = UserSession.objects.filter(ended_at__isnull=True, user__is_active=False)
        ended += _end_rows(disabled, "deactivated", now)
        # And the links mailed to them, which would otherwise work again as well. Only
        # those not expired yet (an expired one never works again): found on the expiry's
        # index, not by joining every link ever mailed to every disabled account each run.
        OneTimeToken.objects.filter(user__is_active=False, used_at__isnull=True,
                                    voided_at__isnull=True, expires_at__gt=now).update(
                                        voided_at=now)
    return ended


def _end_rows(rows, reason: str, now) -> int:
    ended = 0
    for row in rows.select_related("user")[:5000]:
        if UserSession.objects.filter(pk=row.pk, ended_at__isnull=True).update(
            ended_at=now, end_reason=reason
        ):
            ended += 1
            signals.session_ended.send(sender=row.user.__class__, request=None,
                                       user=row.user, session_id=row.pk, reason=reason,
                                       by=None)
    return ended


def sessions_end(user, *, request=None, reason: str, keep=None, only=None, by=None) -> int:
    """End ``user``'s active sessions, except ``keep`` (a row id); or only ``only`` (a row
    id, or a list of them).

    Returns how many this call ended. Each session it ended sends ``session_ended``, with
    ``by``: the staff member who ended them, if it was not the user.
    """
    active = UserSession.objects.filter(user=user, ended_at__isnull=True)
    if keep is not None:
        active = active.exclude(pk=keep)
    if isinstance(only, list):
        active = active.filter(pk__in=only)
    elif only is not None:
        # An exact lookup: an id the column cannot hold (from a URL) matches nothing, where
        # an IN of it would fail in the database driver.
        active = active.filter(pk=only)
    # The rows still open are locked, in key order (two callers lock them in one order: no
    # deadlock), then ended: two requests ending the same sessions at once (the user's two
    # clicks, staff and the user) both find them open, and the second, waiting for the
    # first's locks, reads them again once it commits and finds them ended. Only the
    # sessions this call ended are recorded, in two statements however many there are.
    with transaction.atomic():
        ended = list(active.select_for_update().order_by("pk").values_list("pk", flat=True))
        if ended:
            UserSession.objects.filter(pk__in=ended).update(ended_at=timezone.now(),
                                                            end_reason=reason)
    for session_id in ended:
        signals.session_ended.send(
            sender=user.__class__, request=request, user=user, session_id=session_id,
            reason=reason, by=by,
        )
    return len(ended)


def signed_out(request) -> None:
    """Django's ``logout``, for a request whose tracked session the caller has ended or is
    ending itself: its reference goes first, so that :func:`session_end_at_logout` has
    nothing left to end (a query spared)."""
    request.session.pop(SID_KEY, None)
    auth.logout(request)


#: Set on a request during which this browser's signed-in session ended.
_ENDED_HERE = "_authsuite_session_ended"


def session_ended_here(request) -> None:
    """Note that this browser's signed-in session ended with ``request``: its answer tells
    the browser to clear what the session left in it (:func:`clear_site_data`)."""
    setattr(request, _ENDED_HERE, True)


def clear_site_data(request, response) -> None:
    """``Clear-Site-Data`` on the answer to a request that ended this browser's session
    (ASVS 5.0 14.3.1: authenticated data cleared from the client when the session ends),
    with the directives of ``AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA``."""
    if not getattr(request, _ENDED_HERE, False):
        return
    directives = app_settings.CLEAR_SITE_DATA
    if isinstance(directives, str):
        directives = (directives,)
    elif not isinstance(directives, list | tuple):
        directives = ()  # authsuite_accounts.E019 says so; a sign-out never fails on it
    known = [d for d in directives if d in CLEAR_SITE_DATA_DIRECTIVES]
    if known:
        response["Clear-Site-Data"] = ", ".join(f'"{d}"' for d in known)


def session_end_at_logout(sender, request, user, **kwargs) -> None:
    """``user_logged_out`` receiver: a sign-out by Django's own ``logout``/``alogout`` (a
    project's sign-out view, sync or async) ends the session's tracked row as the suite's
    sign-out does. Left open, the row of a session that no longer exists would be listed
    as signed in, and counted against ``MAX_SESSIONS`` over a real one, until it timed out."""
    if user is not None and request is not None:
        session_ended_here(request)
    session = getattr(request, "session", None) if user is not None else None
    sid = session.get(SID_KEY) if session is not None else None
    if sid is not None:
        sessions_end(user, request=request, reason="logout", only=sid)


def current_session_id(request) -> int | None:
    return request.session.get(SID_KEY) if hasattr(request, "session") else None


def other_sessions_count(request) -> int:
    """How many of the signed-in user's sessions, besides this one, can still be used.

    The pages where a factor changes offer to end them (ASVS 5.0 7.4.3): a factor added or
    removed because someone else may have had the account does not sign that someone out.
    """
    rows = sessions_alive(request.user)
    current = current_session_id(request)
    if current is not None:
        rows = rows.exclude(pk=current)
    return rows.count()


class SessionTrackingMiddleware:
    """Enforce ended sessions and timeouts; keep ``last_seen`` fresh. After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None:
            if user.is_authenticated:
                self._check(request, user)
            elif auth.SESSION_KEY in request.session:
                self._refused(request)
        response = self.get_response(request)
        lockout.device_cookie_set(request, response)
        clear_site_data(request, response)
        return response

    def _check(self, request, user) -> None:
        now = timezone.now()
        sid = request.session.get(SID_KEY)
        row = UserSession.objects.filter(pk=sid, user_id=user.pk).first() if sid else None
        if row is None:
            # Signed in by code outside the pipeline (force_login, a third-party view):
            # adopt the session so it is listed and can be ended. It is a sign-in all the
            # same, and counts against MAX_SESSIONS as one.
            self._adopt(request, user)
            return
        if row.ended_at is not None:
            self._sign_out(request)
            return
        reason = expiry_reason(row, now)
        if reason is not None:
            # Recorded only if this request ended it: staff, the user elsewhere or the
            # sweeper may have ended it since it was read (their reason stands).
            if UserSession.objects.filter(pk=row.pk, ended_at__isnull=True).update(
                    ended_at=now, end_reason=reason):
                signals.session_ended.send(
                    sender=user.__class__, request=request, user=user, session_id=row.pk,
                    reason=reason, by=None,
                )
            self._sign_out(request)
            return
        if now - row.last_seen_at > timedelta(seconds=app_settings.SESSION_TOUCH_INTERVAL):
            ctx = context.current()
            UserSession.objects.filter(pk=row.pk).update(last_seen_at=now, ip=ctx.ip)

    @staticmethod
    def _adopt(request, user) -> None:
        """Track a session signed in outside the pipeline; past ``MAX_SESSIONS``, end the
        account's least recently used others, as a sign-in does.

        Under the account's row lock, the one a sign-in's last_login update holds until it
        commits: adoptions and sign-ins of one account take turns, each counting the
        sessions the ones before it kept. Without it, sessions adopted at once each found
        all the others and ended them, signing out every browser. The lock comes before
        the sessions' locks, in the order a sign-in takes them. Without a limit there is
        nothing to count, and no lock is taken: an account deleted meanwhile is found by
        the insert, whose row refers to it.
        """
        if app_settings.MAX_SESSIONS is None:
            try:
                session_start(request, user, remember=False)
                adopted = True
            except IntegrityError:
                # Deleted since this request loaded the user. The row's one reference, to
                # the account, is checked as the insert commits: middleware runs outside
                # ATOMIC_REQUESTS' transaction, so the insert is a transaction of its own,
                # and its failure leaves nothing to roll back. Caught here, it costs the
                # adoptions that succeed nothing; a lock or a savepoint would cost each of
                # them a transaction.
                adopted = False
        else:
            with transaction.atomic(using=router.db_for_write(user._meta.model)):
                adopted = lock_user_row(user, active=True)
                if adopted:
                    session_start(request, user, remember=False)
                    sessions_limit(request, user)
        if not adopted:
            # Deleted or disabled since this request loaded the user (the lock may have
            # waited for the very request that closed the account): signed out, as a
            # sign-in that finds it so is refused, rather than recording a session of it.
            request.session.flush()
            session_ended_here(request)
            request.user = AnonymousUser()

    @staticmethod
    def _refused(request) -> None:
        """The session is signed in as someone the backend now refuses: disabled (perhaps
        by a bulk ``update()``, which sends no signal) or deleted. It ends here, and stays
        ended should the account be enabled again.

        With ``by`` None: staff disable accounts through ``account_deactivate`` (the admin's
        action and form), which ends every session at once as their act, so a session left
        for here was disabled around it, by code that names nobody."""
        sid = request.session.get(SID_KEY)
        row = (UserSession.objects.filter(pk=sid, ended_at__isnull=True)
               .select_related("user").first() if sid else None)
        if row is not None and UserSession.objects.filter(
                pk=row.pk, ended_at__isnull=True).update(ended_at=timezone.now(),
                                                          end_reason="deactivated"):
            signals.session_ended.send(sender=row.user.__class__, request=request,
                                       user=row.user, session_id=row.pk, reason="deactivated",
                                       by=None)
        request.session.flush()
        session_ended_here(request)

    @staticmethod
    def _sign_out(request) -> None:
        signed_out(request)  # its row is ended already
