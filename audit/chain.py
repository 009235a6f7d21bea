"""Writing events, chaining them, checkpoints, retention and verification."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from audit import canonical
from audit.app_settings import app_settings
from audit.models import ChainHead, Checkpoint, Event, EventSeal, PendingSeal

logger = logging.getLogger("authsuite.audit")

RETENTION_ACTION = "audit.retention.pruned"
# Set for the retention transaction only; the PostgreSQL trigger refuses any other
# UPDATE or DELETE on the event and seal tables.
RETENTION_GUC = "authsuite.audit_retention"


def _values(event: Event) -> list:
    return [getattr(event, name) for name in canonical.FIELDS]


def record(*, action: str, outcome: str = Event.Outcome.SUCCESS, actor_id: str = "",
           actor_repr: str = "", target_type: str = "", target_id: str = "",
           target_repr: str = "", ip: str | None = None, user_agent: str = "",
           request_id: str = "", session_ref: str = "", data: dict | None = None) -> Event | None:
    """Append one event (in the caller's transaction) and schedule its sealing."""
    if not app_settings.ENABLED:
        return None
    event = Event(
        occurred_at=timezone.now(),
        actor_id=canonical.clean(actor_id, 64), actor_repr=canonical.clean(actor_repr, 254),
        action=canonical.clean(action, 100), outcome=outcome,
        target_type=canonical.clean(target_type, 100), target_id=canonical.clean(target_id, 64),
        target_repr=canonical.clean(target_repr, 254), ip=canonical.clean(ip or "", 45),
        user_agent=canonical.clean(user_agent, 512), request_id=canonical.clean(request_id, 64),
        session_ref=canonical.clean(session_ref, 16), data=canonical.dumps(data or {}),
        mac="",
    )
    event.mac = canonical.event_mac(_values(event))
    with transaction.atomic():
        event.save(force_insert=True)
        PendingSeal.objects.create(event=event)
    transaction.on_commit(_schedule_seal)
    if app_settings.LOG_EVENTS:
        logger.info(json.dumps(as_dict(event), sort_keys=True, ensure_ascii=True))
    return event


def as_dict(event: Event) -> dict:
    return {
        "id": event.pk, "occurred_at": event.occurred_at.isoformat(), "action": event.action,
        "outcome": event.outcome, "actor_id": event.actor_id, "actor": event.actor_repr,
        "target_type": event.target_type, "target_id": event.target_id,
        "target": event.target_repr, "ip": event.ip, "user_agent": event.user_agent,
        "request_id": event.request_id, "session_ref": event.session_ref,
        "data": json.loads(event.data or "{}"),
    }


def _schedule_seal() -> None:
    from audit.tasks import seal_events

    try:
        if seal_events.app.conf.task_always_eager:
            seal()
        else:
            from django.core.cache import cache

            # One queued sealing task per second is plenty: each seals a whole batch.
            if cache.add("authsuite:audit:seal-queued", 1, timeout=1):
                seal_events.apply_async(countdown=1)
    except Exception:  # noqa: BLE001 - sealing is retried by the periodic task
        logger.warning("audit: could not schedule sealing; the periodic task will do it")


def _head() -> ChainHead:
    head = ChainHead.objects.filter(pk=1).first()
    if head is None:
        head, _ = ChainHead.objects.get_or_create(pk=1, defaults={"hash": canonical.GENESIS})
    return head


def seal(limit: int | None = None) -> int:
    """Chain pending events in the order they are seen; returns how many were sealed.

    Only one sealer works at a time (the head row is locked; a second sealer skips).
    """
    limit = limit or app_settings.SEAL_BATCH
    _head()
    with transaction.atomic():
        head = (ChainHead.objects.select_for_update(skip_locked=True).filter(pk=1).first()
                if connection.features.has_select_for_update_skip_locked
                else ChainHead.objects.filter(pk=1).first())
        if head is None:
            return 0
        pending = list(
            Event.objects.filter(pk__in=PendingSeal.objects.values("event_id"))
            .order_by("pk").values_list("pk", "mac")[:limit]
        )
        if not pending:
            return 0
        seals, seq, prev = [], head.seq, head.hash
        for event_id, mac in pending:
            seq += 1
            digest = canonical.link_hash(prev, seq, mac)
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
        head.save(update_fields=fields)
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
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None or head.seq == 0:
            return None
        point = _checkpoint_write(head.seq, head.hash)
        head.checkpoint_seq = head.seq
        head.save(update_fields=["checkpoint_seq"])
    return point


def checkpoint_export(point: Checkpoint) -> dict:
    return {"seq": point.seq, "hash": point.hash, "created_at": point.created_at.isoformat(),
            "signature": point.signature}


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
    cutoff = timezone.now() - timedelta(days=days)
    last_old = (EventSeal.objects.filter(event__occurred_at__lt=cutoff)
                .order_by("-seq").values_list("seq", flat=True).first())
    if last_old is None:
        return 0
    resume = EventSeal.objects.filter(seq=last_old + 1).first()
    if resume is None:
        return 0  # never prune the head itself: keep at least one link
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, 'on', true)", [RETENTION_GUC])
        event_ids = EventSeal.objects.filter(seq__lte=last_old).values_list("event_id", flat=True)
        ids = list(event_ids)
        EventSeal.objects.filter(seq__lte=last_old).delete()
        deleted, _ = Event.objects.filter(pk__in=ids).delete()
        record(action=RETENTION_ACTION, actor_repr="system", data={
            "pruned_up_to_seq": last_old, "resume_seq": resume.seq,
            "resume_prev_hash": resume.prev_hash, "cutoff": cutoff.isoformat(),
            "events": len(ids),
        })
    return len(ids)


@dataclass
class Report:
    ok: bool = True
    checked: int = 0
    pending: int = 0
    checkpoints: int = 0
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, event_id, problem: str) -> None:
        if self.ok:
            self.first_bad = event_id
        self.ok = False
        self.problems.append(problem)


def verify(*, chunk: int = 20000, stop_after: int = 20) -> Report:
    """Recompute every MAC and link; check positions, checkpoints and the retention anchor."""
    report = Report()
    secret = canonical.key()
    names = [f"event__{n}" for n in canonical.FIELDS]
    rows = (EventSeal.objects.order_by("seq")
            .values_list("seq", "prev_hash", "hash", "event__mac", "event_id", *names))
    expected_seq, prev = None, None
    hashes_at: dict[int, str] = {}
    checkpoint_seqs = set(Checkpoint.objects.values_list("seq", flat=True))
    for seq, prev_hash, digest, mac, event_id, *values in rows.iterator(chunk_size=chunk):
        report.checked += 1
        if expected_seq is None:
            _check_start(report, seq, prev_hash, event_id)
        elif seq != expected_seq:
            report.fail(event_id, f"event {event_id}: chain position {seq}, expected "
                                  f"{expected_seq} (events missing or inserted)")
        elif prev_hash != prev:
            report.fail(event_id, f"event {event_id}: does not follow the previous link "
                                  f"(reordered or inserted)")
        if canonical.event_mac(values, secret) != mac:
            report.fail(event_id, f"event {event_id}: content does not match its MAC (modified)")
        if canonical.link_hash(prev_hash, seq, mac) != digest:
            report.fail(event_id, f"event {event_id}: link hash is wrong (modified)")
        if seq in checkpoint_seqs:
            hashes_at[seq] = digest
        expected_seq, prev = seq + 1, digest
        if len(report.problems) >= stop_after:
            break
    _check_checkpoints(report, hashes_at, last_seq=(expected_seq or 1) - 1, secret=secret)
    _check_unsealed(report)
    _check_head(report, last_seq=(expected_seq or 1) - 1, last_hash=prev)
    return report


def _check_start(report: Report, seq: int, prev_hash: str, event_id: int) -> None:
    if seq == 1 and prev_hash == canonical.GENESIS:
        return
    anchors = Event.objects.filter(action=RETENTION_ACTION).values_list("data", flat=True)
    for data in anchors:
        info = json.loads(data)
        if info.get("resume_seq") == seq and info.get("resume_prev_hash") == prev_hash:
            return  # anchors are themselves MACed and chained, checked with the rest
    report.fail(event_id, f"event {event_id}: the chain starts at position {seq} with no "
                          f"retention anchor (earlier events deleted)")


def _check_checkpoints(report: Report, hashes_at: dict, *, last_seq: int, secret) -> None:
    for point in Checkpoint.objects.order_by("seq"):
        report.checkpoints += 1
        signature = canonical.sign_checkpoint(point.seq, point.hash,
                                              point.created_at.isoformat(), secret)
        if signature != point.signature:
            report.fail(None, f"checkpoint at {point.seq}: bad signature")
        elif point.seq > last_seq:
            report.fail(None, f"checkpoint at {point.seq}: the chain ends at {last_seq} "
                              f"(events deleted from the end)")
        elif point.seq in hashes_at and hashes_at[point.seq] != point.hash:
            report.fail(None, f"checkpoint at {point.seq}: the chain hash differs (rewritten)")


def _check_unsealed(report: Report) -> None:
    grace = timezone.now() - timedelta(seconds=app_settings.SEAL_GRACE)
    unsealed = Event.objects.filter(seal__isnull=True)
    report.pending = unsealed.filter(occurred_at__gte=grace).count()
    stale = unsealed.filter(occurred_at__lt=grace).order_by("pk").first()
    if stale is not None:
        report.fail(stale.pk, f"event {stale.pk}: not in the chain (inserted outside the suite?)")
    secret = canonical.key()
    for values in unsealed.values_list("pk", "mac", *canonical.FIELDS)[:1000]:
        event_id, mac, *fields = values
        if canonical.event_mac(fields, secret) != mac:
            report.fail(event_id, f"event {event_id}: content does not match its MAC "
                                  f"(modified or forged)")


def _check_head(report: Report, *, last_seq: int, last_hash: str | None) -> None:
    head = ChainHead.objects.filter(pk=1).first()
    if head is None or head.seq == 0:
        return
    if head.seq != last_seq or (last_hash and head.hash != last_hash):
        report.fail(None, f"the chain ends at {last_seq} but its head says {head.seq} "
                          f"(events deleted from the end)")
