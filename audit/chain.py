"""Writing events, chaining them, checkpoints and retention (verification: ``verification``)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import timedelta

from django.db import connections, router, transaction
from django.utils import timezone

from audit import canonical
from audit.app_settings import app_settings
from audit.models import ChainHead, Checkpoint, Event, EventSeal, PendingSeal
from authsuite import db

logger = logging.getLogger("authsuite.audit")

RETENTION_ACTION = "audit.retention.pruned"
# Set for the retention transaction only; the PostgreSQL trigger refuses any other
# UPDATE or DELETE on the event, seal and checkpoint tables.
RETENTION_GUC = "authsuite.audit_retention"
PRUNE_BATCH = 5000
_FIELDS = [f for f in Event._meta.concrete_fields if not f.primary_key]
_ATTNAMES = [f.attname for f in Event._meta.concrete_fields]


def record(*, action: str, outcome: str = Event.Outcome.SUCCESS, actor_id: str = "",
           actor_repr: str = "", target_type: str = "", target_id: str = "",
           target_repr: str = "", ip: str | None = None, user_agent: str = "",
           request_id: str = "", session_ref: str = "", data: dict | None = None) -> Event | None:
    """Append one event (in the caller's transaction) and schedule its sealing.

    Recording is an INSERT and nothing else: no lock, so concurrent requests never wait
    on each other. The event is chained later, by :func:`seal`.
    """
    if not app_settings.ENABLED:
        return None
    clean = canonical.clean
    values = {
        "id": None, "uid": uuid.uuid4(), "occurred_at": timezone.now(),
        "actor_id": clean(actor_id, 64), "actor_repr": clean(actor_repr, 254),
        "action": clean(action, 100), "outcome": clean(outcome, 10),
        "target_type": clean(target_type, 100), "target_id": clean(target_id, 64),
        "target_repr": clean(target_repr, 254), "ip": clean(ip or "", 45),
        "user_agent": clean(user_agent, 512), "request_id": clean(request_id, 64),
        "session_ref": clean(session_ref, 16), "data": canonical.dumps(data or {}),
    }
    values["mac"] = canonical.event_mac([values[name] for name in canonical.FIELDS])
    # Positional arguments: Django's quick way to build an instance (every request that
    # records something pays for this).
    event = Event(*[values[name] for name in _ATTNAMES])
    using = router.db_for_write(Event)
    _insert(event, using)
    transaction.on_commit(_schedule_seal, using=using)
    if app_settings.LOG_EVENTS and logger.isEnabledFor(logging.INFO):
        # The line as the argument of a constant template (aggregators group by the
        # template; a "%" in an event is never taken for a format), and the event as
        # ``audit_event`` for a formatter that writes records as JSON.
        fields = as_dict(event)
        logger.info("%s", json.dumps(fields, sort_keys=True, ensure_ascii=True),
                    extra={"audit_event": fields})
    return event


_INSERT_SQL: dict[str, str] = {}


def _insert_sql(connection) -> str:
    sql = _INSERT_SQL.get(connection.alias)
    if sql is None:
        qn = connection.ops.quote_name
        pk = qn(Event._meta.pk.column)
        sql = _INSERT_SQL[connection.alias] = (
            f"WITH e AS (INSERT INTO {qn(Event._meta.db_table)} "  # noqa: S608 - names, no input
            f"({', '.join(qn(f.column) for f in _FIELDS)}) "
            f"VALUES ({', '.join(['%s'] * len(_FIELDS))}) RETURNING {pk}) "
            f"INSERT INTO {qn(PendingSeal._meta.db_table)} ({qn('event_id')}) "
            f"SELECT {pk} FROM e RETURNING {qn('event_id')}"
        )
    return sql


def _insert(event: Event, using: str) -> None:
    """Insert the event and its place in the sealing queue, both or neither."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        with transaction.atomic(using=using, savepoint=False):
            event.pk = db.insert(Event, using=using, values={
                f.attname: getattr(event, f.attname) for f in _FIELDS})
            db.insert(PendingSeal, using=using, values={"event_id": event.pk})
        event._state.adding = False
        event._state.db = using
        return
    # One statement, so one round trip and no savepoint, on the path of every request that
    # records something. (Model signals are not sent for events: subscribe to the
    # ``authsuite.audit`` log lines to forward events elsewhere.)
    # Text, a UUID and an aware datetime: psycopg adapts them as they are (what
    # get_db_prep_save returns for them on PostgreSQL), at a fraction of the cost.
    params = [getattr(event, f.attname) for f in _FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection), params)
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = using


def as_dict(event: Event) -> dict:
    return {
        "id": event.pk, "occurred_at": event.occurred_at.isoformat(), "action": event.action,
        "outcome": event.outcome, "actor_id": event.actor_id, "actor": event.actor_repr,
        "target_type": event.target_type, "target_id": event.target_id,
        "target": event.target_repr, "ip": event.ip, "user_agent": event.user_agent,
        "request_id": event.request_id, "session_ref": event.session_ref,
        "data": json.loads(event.data or "{}"),
    }


_inline_lock = threading.Lock()
_inline_last = [float("-inf")]


def _without_worker() -> bool:
    from audit.tasks import seal_events

    return bool(seal_events.app.conf.task_always_eager)


def _schedule_seal() -> None:
    """After a commit that recorded events: get them chained soon, without making every
    request pay for it."""
    from audit.tasks import seal_events

    interval = app_settings.SEAL_INTERVAL
    # At most one run per interval from this process: each run takes a whole batch.
    now = time.monotonic()
    with _inline_lock:
        if now - _inline_last[0] < interval:
            return
        _inline_last[0] = now
    try:
        if _without_worker():
            # No worker to hand the job to: chain here. Events left waiting are chained by
            # the next run, ``audit_verify`` or ``audit_checkpoint``.
            seal_all()
        else:
            from django.core.cache import cache

            # And one queued task per interval across processes.
            if cache.add("authsuite:audit:seal-queued", 1, timeout=max(1, round(interval))):
                seal_events.apply_async(countdown=interval)
    except Exception:  # noqa: BLE001 - sealing is retried by the next run or the periodic task
        logger.warning("audit: could not chain new events now; a later run will")


def _head() -> None:
    if not ChainHead.objects.filter(pk=1).exists():
        ChainHead.objects.get_or_create(pk=1, defaults={
            "hash": canonical.GENESIS, "signature": canonical.sign_head(0, canonical.GENESIS, 0),
        })


def _lock_head(*, wait: bool) -> ChainHead | None:
    from django.db import connection

    heads = ChainHead.objects.filter(pk=1)
    if connection.features.has_select_for_update:
        skip = not wait and connection.features.has_select_for_update_skip_locked
        heads = heads.select_for_update(skip_locked=skip)
    return heads.first()


def _save_head(head: ChainHead, fields: list[str]) -> None:
    head.signature = canonical.sign_head(head.seq, head.hash, head.checkpoint_seq)
    head.save(update_fields=[*fields, "signature"])


def seal(limit: int | None = None) -> int:
    """Chain pending events in the order they are seen; returns how many were sealed.

    Only one sealer works at a time (the head row is locked; a second sealer skips).
    """
    limit = limit or app_settings.SEAL_BATCH
    _head()
    with transaction.atomic():
        head = _lock_head(wait=False)
        if head is None:
            return 0
        pending = list(PendingSeal.objects.order_by("event_id")
                       .values_list("event_id", "event__mac")[:limit])
        if not pending:
            return 0
        signer = canonical.Signer()
        seals, seq, prev = [], head.seq, head.hash
        for event_id, mac in pending:
            seq += 1
            digest = signer.link(prev, seq, mac)
            seals.append(EventSeal(event_id=event_id, seq=seq, prev_hash=prev, hash=digest))
            prev = digest
        EventSeal.objects.bulk_create(seals)
        PendingSeal.objects.filter(event_id__in=[e for e, _ in pending]).delete()
        head.seq, head.hash = seq, prev
        fields = ["seq", "hash"]
        if seq - head.checkpoint_seq >= app_settings.CHECKPOINT_EVERY:
            _checkpoint_write(seq, prev)
            head.checkpoint_seq = seq
            fields.append("checkpoint_seq")
        _save_head(head, fields)
    return len(pending)


def seal_all() -> int:
    total = 0
    while (count := seal()):
        total += count
    return total


def _checkpoint_write(seq: int, head_hash: str) -> Checkpoint:
    created = timezone.now()
    return Checkpoint.objects.create(
        seq=seq, hash=head_hash, created_at=created,
        signature=canonical.sign_checkpoint(seq, head_hash, created.isoformat()),
    )


def checkpoint() -> Checkpoint | None:
    """Seal what is pending and sign the head (periodic task and ``audit_checkpoint``)."""
    seal_all()
    _head()
    with transaction.atomic():
        head = _lock_head(wait=True)
        if head is None or head.seq == 0:
            return None
        if head.checkpoint_seq == head.seq:
            # Nothing new since the last one: a second checkpoint would only repeat it.
            latest = Checkpoint.objects.filter(seq=head.seq).order_by("-pk").first()
            if latest is not None:
                return latest
        point = _checkpoint_write(head.seq, head.hash)
        head.checkpoint_seq = head.seq
        _save_head(head, ["checkpoint_seq"])
    return point


def checkpoint_export(point: Checkpoint) -> dict:
    return {"seq": point.seq, "hash": point.hash, "created_at": point.created_at.isoformat(),
            "signature": point.signature}


def _allow_retention_delete() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [RETENTION_GUC])


def prune(older_than_days: int | None = None) -> int:
    """Delete events older than the retention age, leaving the chain verifiable.

    Only whole chain prefixes go: the anchor event records where the remaining chain
    resumes (its first position and previous hash), and it is itself chained and MACed,
    so nobody without the audit key can forge a later starting point.
    """
    days = app_settings.RETENTION_DAYS if older_than_days is None else older_than_days
    if days is None:
        return 0
    seal_all()
    _head()
    cutoff = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        _lock_head(wait=True)  # no sealing while the start of the chain moves
        last_old = (EventSeal.objects.filter(event__occurred_at__lt=cutoff)
                    .order_by("-seq").values_list("seq", flat=True).first())
        if last_old is None:
            return 0
        resume = EventSeal.objects.filter(seq=last_old + 1).first()
        if resume is None:
            return 0  # never prune the head itself: keep at least one link
        _allow_retention_delete()
        deleted = 0
        while ids := list(EventSeal.objects.filter(seq__lte=last_old).order_by("seq")
                          .values_list("event_id", flat=True)[:PRUNE_BATCH]):
            EventSeal.objects.filter(event_id__in=ids).delete()
            Event.objects.filter(pk__in=ids).delete()
            deleted += len(ids)
        record(action=RETENTION_ACTION, actor_repr="system", data={
            "pruned_up_to_seq": last_old, "resume_seq": resume.seq,
            "resume_prev_hash": resume.prev_hash, "cutoff": cutoff.isoformat(),
            "events": deleted,
        })
    return deleted


def verify(**options):
    """Recompute every MAC and link; see :func:`audit.verification.verify`."""
    from audit.verification import verify as run

    return run(**options)
