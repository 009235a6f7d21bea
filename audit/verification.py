"""Verifying the audit trail: every MAC, every link, the head, the checkpoints.

What each kind of tampering looks like here:

- an event's content changed: its MAC no longer matches (the event is named);
- an event deleted, inserted or moved: positions skip or a link does not follow, and the
  links are keyed, so they cannot be recomputed around the change (the event after the
  gap, or the inserted or moved one, is named);
- events cut off the end: the signed head says the chain is longer; with the head moved
  back too, a checkpoint (or an exported one, kept outside the database) is past the end;
- an event inserted outside the suite and never chained: it has no seal and no place in
  the sealing queue, and its MAC does not match;
- a copy of an authentic event inserted (its MAC is genuine, and queued for sealing it is
  chained like any other): it shares its ``uid`` with the original, which no two events
  written by the suite do;
- a checkpoint edited or removed: its signature fails, or the signed head names a
  checkpoint that is gone.

The check runs in one snapshot (REPEATABLE READ on PostgreSQL), so concurrent writers and
sealers never make it report a false break. On PostgreSQL the database assembles each
event's canonical bytes and this process computes the MACs (the key never leaves it); the
next chunk is fetched while the current one is checked.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connections, router, transaction
from django.db.models import Count, Exists, Min, OuterRef
from django.utils import timezone

from audit import canonical
from audit.app_settings import app_settings
from audit.chain import RETENTION_ACTION
from audit.models import ChainHead, Checkpoint, Event, EventSeal, PendingSeal

CHUNK = 10_000

logger = logging.getLogger("authsuite.audit")


@dataclass
class Report:
    ok: bool = True
    checked: int = 0
    pending: int = 0
    #: Events waiting to be chained for longer than SEAL_GRACE (is the sealer running?).
    stale_pending: int = 0
    checkpoints: int = 0
    exported_checked: int = 0
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, event_id, problem: str) -> None:
        """Record a problem; ``first_bad`` is the first event any problem names (checked in
        chain order, so the earliest damage)."""
        if self.first_bad is None and event_id is not None:
            self.first_bad = event_id
        self.ok = False
        self.problems.append(problem)


@dataclass
class _Chain:
    first_seq: int | None = None
    first_prev: str | None = None
    first_event: int | None = None
    last_seq: int = 0
    last_hash: str | None = None
    hashes_at: dict[int, str] = field(default_factory=dict)


def verify(*, chunk: int = CHUNK, stop_after: int = 20,
           exported: Iterable[dict] | None = None) -> Report:
    """Check the whole trail; ``exported`` are checkpoints kept outside the database
    (``audit_checkpoint --export``), which also catch a rollback of the whole database
    to an earlier, consistent state."""
    exported = list(exported or [])
    using = router.db_for_read(EventSeal)
    connection = connections[using]
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if snapshot:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # The canonical timestamp is PostgreSQL's ISO text in UTC (_rows_postgresql
                # converts to UTC itself: the session keeps the zone Django reads naive
                # datetimes in under USE_TZ = False, the checkpoints' and anchors' included).
                cursor.execute("SELECT set_config('DateStyle', 'ISO, YMD', true)")
        report = _verify(connection, chunk=chunk, stop_after=stop_after, exported=exported)
    _log(report)
    return report


def _log(report: Report) -> None:
    """Tampering found, or a sealer that stopped, is for an operator to act on whoever ran
    the check (``audit_verify`` from cron, a project's own task): said once, in the log
    too. The problems name events and positions, never their content."""
    if not report.ok:
        logger.error("audit: the trail FAILED verification: %s problems, first bad event %s; "
                     "%s", len(report.problems), report.first_bad,
                     "; ".join(report.problems[:5]))
    if report.stale_pending:
        logger.warning("audit: %s events have waited to be chained for longer than "
                       "AUTHSUITE_AUDIT_SEAL_GRACE; is the sealing task running?",
                       report.stale_pending)


def _verify(connection, *, chunk: int, stop_after: int, exported: list[dict]) -> Report:
    report = Report()
    signer = canonical.Signer()
    points = list(Checkpoint.objects.order_by("seq"))
    wanted = {p.seq for p in points} | _exported_seqs(exported)
    # Only an authentic anchor may explain where the chain starts: a forged one (no key, no
    # valid MAC) is ignored here and named among the problems.
    anchors = set()
    for mac, *values in Event.objects.filter(action=RETENTION_ACTION).values_list(
            "mac", *canonical.FIELDS):
        if signer.event(canonical.message(values)) == mac:
            info = json.loads(values[-1])
            anchors.add((info.get("resume_seq"), info.get("resume_prev_hash")))

    chain = _Chain()
    rows = (_rows_postgresql(connection, chunk) if connection.vendor == "postgresql"
            else _rows_orm(chunk))
    _walk(report, chain, rows, signer, wanted, anchors, stop_after)
    _check_checkpoints(report, chain, points, signer)
    _check_exported(report, chain, exported, signer)
    _check_unsealed(report, signer)
    _check_copies(report, stop_after)
    _check_head(report, chain, points, signer)
    return report


def _exported_seqs(exported: list) -> set[int]:
    seqs = set()
    for point in exported:
        try:
            seqs.add(int(point["seq"]))
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: Infinity
            continue  # reported by _check_exported
    return seqs


def _walk(report: Report, chain: _Chain, rows, signer, wanted: set, anchors: set,
          stop_after: int) -> None:
    event_mac, link = signer.event, signer.link
    expected, prev = None, None
    try:
        for seq, prev_hash, digest, mac, event_id, message in rows:
            report.checked += 1
            if expected is None:
                chain.first_seq, chain.first_prev, chain.first_event = seq, prev_hash, event_id
                if not (seq == 1 and prev_hash == canonical.GENESIS) and (
                        (seq, prev_hash) not in anchors):
                    report.fail(event_id, f"event {event_id}: the chain starts at position {seq} "
                                          f"with no retention anchor (earlier events deleted)")
            elif seq != expected:
                report.fail(event_id, f"event {event_id}: chain position {seq}, expected "
                                      f"{expected} (events missing or inserted)")
            elif prev_hash != prev:
                report.fail(event_id, f"event {event_id}: does not follow the previous link "
                                      f"(reordered or inserted)")
            if event_mac(message) != mac:
                report.fail(event_id, f"event {event_id}: content does not match its MAC "
                                      f"(modified)")
            if link(prev_hash, seq, mac) != digest:
                report.fail(event_id, f"event {event_id}: link hash is wrong (forged or moved)")
            if seq in wanted:
                chain.hashes_at[seq] = digest
            expected, prev = seq + 1, digest
            if len(report.problems) >= stop_after:
                break
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    chain.last_seq, chain.last_hash = (expected or 1) - 1, prev


_REST = ("actor_id", "actor_repr", "action", "outcome", "target_type", "target_id",
         "target_repr", "ip", "user_agent", "request_id", "session_ref", "data")
if ("uid", "occurred_at", *_REST) != canonical.FIELDS:  # pragma: no cover - a guard for edits
    raise ImportError("audit.verification assembles canonical.FIELDS in another order")


def _rows_postgresql(connection, chunk: int) -> Iterator[tuple]:
    """(seq, prev_hash, hash, mac, event_id, canonical bytes), in chain order."""
    qn = connection.ops.quote_name
    columns = ", ".join(f"e.{qn(name)}" for name in _REST)
    sql = (
        f"SELECT s.seq, s.prev_hash, s.hash, e.mac, e.id, "  # noqa: S608 - names, no input
        f"convert_to(concat_ws(%s, e.uid::text, "
        f"(e.occurred_at AT TIME ZONE 'UTC')::text || '+00', {columns}), 'UTF8') "
        f"FROM {qn(EventSeal._meta.db_table)} s "
        f"JOIN {qn(Event._meta.db_table)} e ON e.id = s.event_id ORDER BY s.seq"
    )
    connection.ensure_connection()
    raw = connection.connection  # psycopg's own connection: binary rows, no wrappers

    def chunks():
        # One server-side cursor streams the chain in order (a fast-start plan: the seal
        # index, then each event by its key), so memory stays flat however long it is.
        with raw.cursor(name="audit_verify", binary=True) as cursor:
            cursor.execute(sql, [canonical.SEP])
            while rows := cursor.fetchmany(chunk):
                yield rows

    with connection.cursor() as cursor:
        # Keep the other core for computing MACs.
        cursor.execute("SELECT set_config('max_parallel_workers_per_gather', '0', true)")
    return _Flatten(_Prefetch(chunks()))


def _rows_orm(chunk: int) -> Iterator[tuple]:
    names = [f"event__{n}" for n in canonical.FIELDS]
    last = None
    while True:
        rows = EventSeal.objects.order_by("seq").values_list(
            "seq", "prev_hash", "hash", "event__mac", "event_id", *names)
        if last is not None:
            rows = rows.filter(seq__gt=last)
        rows = list(rows[:chunk])
        if not rows:
            return
        for seq, prev_hash, digest, mac, event_id, *values in rows:
            yield seq, prev_hash, digest, mac, event_id, canonical.message(values)
        last = rows[-1][0]


class _Prefetch:
    """Fetch the next chunk in a thread while the current one is checked: the database
    works on one core while the MACs are computed on the other."""

    _DONE = object()

    def __init__(self, chunks: Iterator):
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(chunks,), daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, chunks: Iterator) -> None:
        try:
            for rows in chunks:
                if not self._put(rows):
                    return
            self._put(self._DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._put(exc)
        finally:
            chunks.close()

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop fetching; the connection is free again once this returns."""
        self._stop.set()
        self._thread.join()


class _Flatten:
    def __init__(self, chunks: _Prefetch):
        self._chunks = chunks

    def __iter__(self):
        for rows in self._chunks:
            yield from rows

    def close(self) -> None:
        self._chunks.close()


def _check_checkpoints(report: Report, chain: _Chain, points: list, signer) -> None:
    for point in points:
        report.checkpoints += 1
        signature = canonical.sign_checkpoint(point.seq, point.hash,
                                              point.created_at.isoformat())
        if signature != point.signature:
            report.fail(None, f"checkpoint at {point.seq}: bad signature (edited)")
        elif point.seq > chain.last_seq:
            report.fail(None, f"checkpoint at {point.seq}: the chain ends at {chain.last_seq} "
                              f"(events deleted from the end)")
        elif point.seq in chain.hashes_at and chain.hashes_at[point.seq] != point.hash:
            report.fail(None, f"checkpoint at {point.seq}: the chain hash differs (rewritten)")


def _check_exported(report: Report, chain: _Chain, exported: list[dict], signer) -> None:
    for point in exported:
        try:
            seq, digest = int(point["seq"]), str(point["hash"])
            signature = canonical.sign_checkpoint(seq, digest, str(point["created_at"]))
            valid = signature == str(point["signature"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            seq, valid = point.get("seq") if isinstance(point, dict) else None, False
        if not valid:
            report.fail(None, f"exported checkpoint at {seq}: bad signature (not ours)")
            continue
        report.exported_checked += 1
        if seq > chain.last_seq:
            report.fail(None, f"exported checkpoint at {seq}: the chain ends at "
                              f"{chain.last_seq} (events deleted from the end)")
        elif seq in chain.hashes_at and chain.hashes_at[seq] != digest:
            report.fail(None, f"exported checkpoint at {seq}: the chain hash differs "
                              f"(rewritten)")


def _check_unsealed(report: Report, signer) -> None:
    """Events not in the chain: each must be waiting in the sealing queue and authentic."""
    grace = timezone.now() - timedelta(seconds=app_settings.SEAL_GRACE)
    queued = PendingSeal.objects.filter(event_id=OuterRef("pk"))
    unsealed = (Event.objects.filter(seal__isnull=True).annotate(queued=Exists(queued))
                .order_by("pk").values_list("pk", "queued", "mac", *canonical.FIELDS))
    for event_id, is_queued, mac, *values in unsealed.iterator(chunk_size=2000):
        if not is_queued:
            report.fail(event_id, f"event {event_id}: not in the chain and not waiting to be "
                                  f"chained (inserted outside the suite?)")
        else:
            report.pending += 1
            if values[1] < grace:
                report.stale_pending += 1
        if signer.event(canonical.message(values)) != mac:
            report.fail(event_id, f"event {event_id}: content does not match its MAC "
                                  f"(modified or forged)")


def _check_copies(report: Report, stop_after: int) -> None:
    """Events sharing a ``uid``: every one after the first is a copy (a replay)."""
    copies = (Event.objects.values("uid").annotate(first=Min("pk"), n=Count("pk"))
              .filter(n__gt=1).order_by("first").values_list("uid", "first"))
    for uid, first in copies[:stop_after]:
        later = Event.objects.filter(uid=uid).exclude(pk=first).order_by("pk")
        for event_id in later.values_list("pk", flat=True):
            report.fail(event_id, f"event {event_id}: a copy of event {first} (the same uid; "
                                  f"inserted)")


def _check_head(report: Report, chain: _Chain, points: list, signer) -> None:
    head = ChainHead.objects.filter(pk=1).first()
    if head is None:
        if report.checked:
            report.fail(None, "the chain head is missing (deleted)")
        return
    if head.signature != canonical.sign_head(head.seq, head.hash, head.checkpoint_seq):
        report.fail(None, "the chain head's signature is wrong (the head was moved)")
        return
    if head.seq != chain.last_seq or (head.seq and head.hash != chain.last_hash):
        report.fail(None, f"the chain ends at position {chain.last_seq} but its head says "
                          f"{head.seq} (events deleted from the end)")
    if head.checkpoint_seq and head.checkpoint_seq not in {p.seq for p in points}:
        report.fail(None, f"checkpoint at {head.checkpoint_seq} is missing (deleted)")
