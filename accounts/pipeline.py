"""The login pipeline: identify → first factor → stages → complete.

A sign-in is a short state machine kept in the session. A first factor (password, magic
link, passkey) calls :func:`login_begin`; every installed app may contribute *stages* (MFA,
email verification, a required password change) through the registry, and the user is
signed in only when every stage that applies has been passed. Nothing outside this module
calls ``django.contrib.auth.login``: that is what makes "no path around MFA" true.

Stages register in their app's ``ready()``::

    from accounts.pipeline import Stage, stages

    class SecondFactor(Stage):
        key = "mfa"
        order = 100
        url_name = "mfa:challenge"

        def facts(self, request, user, state):
            return {"myapp_has_device": HAS_DEVICE}  # Exists(Device.objects.filter(
                                                     #     user=OuterRef("pk")))

        def is_needed(self, request, user, state, facts):
            return facts["myapp_has_device"]

    stages.register(SecondFactor())

What a stage must know about the user to decide (``facts``: a factor set up, an address
unverified) is asked as boolean query expressions over the user row, which the pipeline
evaluates for every stage in one query, compiled once per process: a sign-in pays one short
round trip for its stages, however many apps contribute them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import connections, router, transaction
from django.urls import reverse

from accounts import authrecord, credentials, lockout, sessions, signals
from accounts.app_settings import app_settings
from accounts.errors import SignInRefused
from accounts.users import active_only

SESSION_KEY = "_authsuite_login"
BACKEND = "accounts.backends.EmailBackend"


@dataclass
class LoginState:
    user_id: str
    method: str
    amr: list[str]
    remember: bool = False
    next_url: str = ""
    started_at: float = field(default_factory=time.time)
    done: list[str] = field(default_factory=list)
    #: The stage this sign-in was sent to, the only one that may be passed next.
    waiting: str = ""
    #: The account's password as it was when the first factor succeeded (its session auth
    #: hash): a password changed or reset meanwhile voids the sign-in, as it ends sessions.
    credential: str = ""

    def user(self):
        """The account signing in, or None: gone, disabled or its password changed since."""
        model = get_user_model()
        user = model._default_manager.filter(pk=self.user_id, **active_only()).first()
        if user is None or not credentials.matches(user, self.credential):
            return None
        return user


class Stage:
    """A step between the first factor and a signed-in session."""

    key: str = ""
    order: int = 0
    url_name: str = ""
    #: Shown to API clients so they know what to do next.
    description: str = ""

    def facts(self, request, user, state: LoginState) -> dict:
        """Boolean query expressions over the user row (``Exists(...)`` of rows whose
        ``user`` is ``OuterRef("pk")``) that :meth:`is_needed` reads, by name.

        The arguments choose which facts to ask; the expression behind a name must not
        depend on them, nor ever change: the query of each set of names is compiled once.
        Names are column aliases shared by all stages, so prefix them with the app's label.
        """
        return {}

    def is_needed(self, request, user, state: LoginState, facts: dict) -> bool:
        """Whether this stage applies; ``facts`` holds the evaluated :meth:`facts`."""
        raise NotImplementedError

    def url(self) -> str:
        return reverse(self.url_name)

    def on_enter(self, request, user) -> None:
        """Called when the pipeline selects this stage (send a code, an email...)."""

    def abandons_login(self) -> bool:
        """True for stages that end the attempt instead of continuing it (verify email)."""
        return False

    def details(self, user, state: LoginState) -> dict:
        """More for API clients waiting at this stage than its ``description`` (which ways
        through it ``user`` has for this sign-in, say); merged into the pending answer."""
        return {}


class StageRegistry:
    def __init__(self):
        self._stages: dict[str, Stage] = {}

    def register(self, stage: Stage) -> None:
        self._stages[stage.key] = stage

    def unregister(self, key: str) -> None:
        self._stages.pop(key, None)

    def get(self, key: str) -> Stage | None:
        return self._stages.get(key)

    def __iter__(self):
        return iter(sorted(self._stages.values(), key=lambda s: (s.order, s.key)))


stages = StageRegistry()


@dataclass
class LoginResult:
    user: object
    stage: Stage | None = None
    next_url: str = ""
    #: The sign-in waiting at ``stage``.
    state: LoginState | None = None

    @property
    def complete(self) -> bool:
        return self.stage is None

    def as_dict(self) -> dict:
        if self.stage is None:
            return {"status": "authenticated"}
        return {
            "status": "pending", "stage": self.stage.key, "url": self.stage.url(),
            "message": str(self.stage.description), **self.stage.details(self.user, self.state),
        }


def state_get(request) -> LoginState | None:
    """The sign-in in progress in this session, or None (none, or it timed out)."""
    raw = request.session.get(SESSION_KEY)
    if not raw:
        return None
    state = LoginState(**raw)
    if time.time() - state.started_at > app_settings.LOGIN_TIMEOUT:
        state_clear(request)
        return None
    return state


def state_clear(request) -> None:
    request.session.pop(SESSION_KEY, None)


def state_password_set(request, user) -> None:
    """A stage of the sign-in set the account's password itself (the required change):
    the sign-in goes on with the new one."""
    state = state_get(request)
    if state is not None and state.user_id == str(user.pk):
        state.credential = credentials.credential(user)
        _state_save(request, state)


def _state_save(request, state: LoginState) -> None:
    request.session[SESSION_KEY] = asdict(state)


_FACTS_SQL: dict[tuple, tuple[str, list]] = {}


def _facts_sql(model, alias: str, expressions: dict) -> tuple[str, list]:
    """``SELECT <expressions> FROM <user table> WHERE <pk> = %s``, compiled once.

    Building and compiling the expressions costs some fifty times what running the query
    does, and a sign-in asks the same facts every time.
    """
    key = (alias, model._meta.label, tuple(expressions))
    compiled = _FACTS_SQL.get(key)
    if compiled is None:
        # The base manager: no default filter, so the outer query has no WHERE of its own.
        query = model._base_manager.using(alias).values(**expressions).query
        sql, params = query.get_compiler(alias).as_sql()
        qn = connections[alias].ops.quote_name
        table = qn(model._meta.db_table)
        compiled = _FACTS_SQL[key] = (
            f"{sql} WHERE {table}.{qn(model._meta.pk.column)} = %s", list(params))
    return compiled


def user_facts(user, expressions: dict) -> dict:
    """Evaluate boolean ``expressions`` (see :meth:`Stage.facts`) for ``user`` in one query."""
    if not expressions:
        return {}
    model = user._meta.model  # not type(user): request.user is a lazy proxy
    alias = router.db_for_read(model)
    sql, params = _facts_sql(model, alias, expressions)
    connection = connections[alias]
    pk = model._meta.pk.get_db_prep_value(user.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk])
        row = cursor.fetchone()
    if row is None:
        # A user deleted meanwhile is refused later; until then, every stage that asked applies.
        return dict.fromkeys(expressions, True)
    return {name: bool(value) for name, value in zip(expressions, row, strict=True)}


def _next_stage(request, user, state: LoginState) -> Stage | None:
    pending = [stage for stage in stages if stage.key not in state.done]
    expressions = {}
    for stage in pending:
        expressions.update(stage.facts(request, user, state))
    facts = user_facts(user, expressions)
    for stage in pending:
        if stage.is_needed(request, user, state, facts):
            return stage
    return None


def stage_current(request) -> Stage | None:
    """The stage the pending sign-in waits for; None when nothing is pending.

    A stage's view checks this before acting, so that it only ever runs as the next step of
    a sign-in and never as a shortcut past an earlier stage (a second factor, say).
    """
    state = state_get(request)
    user = state.user() if state is not None else None
    if user is None:
        return None
    # The stage recorded when the sign-in was sent to it, the only one stage_passed
    # accepts: recomputing it here would depend on this request (a trusted-browser cookie
    # added or dropped half-way) and let a view act on another stage than the pipeline.
    return stages.get(state.waiting)


def login_begin(
    request, *, user, method: str, amr: list[str], remember: bool = False, next_url: str = ""
) -> LoginResult:
    """A first factor succeeded for ``user``: run the stages, or sign in if none applies."""
    # A new attempt replaces whatever was in progress. The session key is rotated by
    # _advance (a stage follows) or _complete (signed in), never twice for one step.
    state_clear(request)
    state = LoginState(
        user_id=str(user.pk), method=method, amr=list(amr), remember=remember, next_url=next_url
    )
    return _advance(request, user, state)


def stage_passed(request, key: str, *, amr: list[str] = (),
                 also_done: tuple[str, ...] = ()) -> LoginResult | None:
    """The pending sign-in passed stage ``key``; continue it. None if nothing is pending
    or ``key`` is not the stage it waits for.

    ``also_done`` names stages this one satisfies too (enrolling a factor proves it).
    """
    state = state_get(request)
    if state is None:
        return None
    user = state.user()
    if user is None:
        state_clear(request)
        return None
    if state.waiting not in (key, *also_done):
        # Only the stage the sign-in waits for can be passed: never one further on, which
        # would skip the stages before it.
        return None
    state.done.extend([key, *also_done])
    state.amr = [*state.amr, *amr]
    return _advance(request, user, state)


def _advance(request, user, state: LoginState) -> LoginResult:
    stage = _next_stage(request, user, state)
    if stage is not None:
        # Every step rotates the key, so a session fixed by an attacker before the first
        # factor (or before a stage) is worthless after it.
        request.session.cycle_key()
        stage.on_enter(request, user)
        if stage.abandons_login():
            state_clear(request)
        else:
            state.waiting = stage.key
            state.credential = credentials.credential(user)
            _state_save(request, state)
        return LoginResult(user=user, stage=stage, next_url=state.next_url, state=state)
    _complete(request, user, state)
    return LoginResult(user=user, next_url=state.next_url)


def _complete(request, user, state: LoginState) -> None:
    state_clear(request)
    if auth.SESSION_KEY in request.session:
        # auth.login keeps the key of a session already signed in as this user; a sign-in
        # must rotate it all the same.
        request.session.cycle_key()
    try:
        _complete_writes(request, user, state)
    except SignInRefused:
        # The account was disabled meanwhile (``last_login_update``): nothing was written,
        # and the session auth.login filled in is emptied before the response saves it.
        request.session.flush()
        request.user = AnonymousUser()
        raise


def _complete_writes(request, user, state: LoginState) -> None:
    # One transaction for the writes of a sign-in (session row, last_login, tracked
    # session, receivers' records): one commit instead of one per write, and no session
    # left half recorded if one of them fails.
    with transaction.atomic():
        # The tracked session of this browser, if it was signed in: this sign-in replaces it.
        replaced = sessions.current_session_id(request)
        # django.contrib.auth.login rotates the session key (or flushes a session that
        # belonged to someone else) and updates last_login.
        auth.login(request, user, backend=BACKEND)
        authrecord.record_set(request, state.amr)
        if state.remember:
            request.session.set_expiry(app_settings.REMEMBER_ABSOLUTE_TIMEOUT)
        else:
            request.session.set_expiry(0)
        sessions.session_start(request, user, remember=state.remember)
        sessions.sessions_limit(request, user, replaced=replaced)
        lockout.device_remember(request, user)
        signals.login_succeeded.send(
            sender=user.__class__, request=request, user=user, method=state.method,
            amr=authrecord.record_get(request)["amr"],
        )
        sessions.session_write(request)
