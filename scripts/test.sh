#!/usr/bin/env bash
# The project's test command.
#
#   bash scripts/test.sh           runs every step the machine has services for
#   CI=true bash scripts/test.sh   a PostgreSQL or Redis that cannot be reached fails the run
#
# Steps, in order: ruff, the migrations check, Django's system checks, the suite on the
# embedded defaults (SQLite, local-memory cache, eager Celery) and, at the same time, the
# same on Django's own User model (django.contrib.auth) instead of the suite's, the whole
# suite again on PostgreSQL + Redis together with the services and concurrency tests (in
# two halves side by side, tests/accounts with tests/passkeys and the rest, each on a
# database and a Redis database of its own), then the browser tests.
# Every step runs even when an earlier one failed; the exit status is non-zero if any failed.
#
# Environment:
#   TEST_DATABASE_URL  PostgreSQL for the PostgreSQL run (postgres://postgres@127.0.0.1:5432/test);
#                      the tests use databases named by TEST_DB_NAME (test_authsuite) there,
#                      it and it with "_rest" after it for the second half
#   TEST_REDIS_URL     Redis for the PostgreSQL run (redis://127.0.0.1:6379/15); the tests flush
#                      this database, so give it one nothing else uses
#   TEST_REDIS_URL_REST  the same for the second half (redis://127.0.0.1:6379/14)
#   PYTEST_ARGS        extra pytest arguments for every run (say "-x" or "-k magic")
#   STEP_TIMEOUT       seconds one pytest run may take before it is stopped (1500: a run
#                      takes about 600 on an idle two-core machine, twice that on a busy one)
set -uo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
venv_ready || { echo "error: could not set up the virtualenv at $VENV" >&2; exit 1; }

PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
REDIS_TEST_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
REDIS_TEST_URL_REST="${TEST_REDIS_URL_REST:-redis://127.0.0.1:6379/14}"
DB_NAME="${TEST_DB_NAME:-test_authsuite}"
STEP_TIMEOUT="${STEP_TIMEOUT:-1500}"
read -r -a EXTRA_ARGS <<<"${PYTEST_ARGS:-}"
STRICT=false
[ "$(printf %s "${CI:-}" | tr '[:upper:]' '[:lower:]')" = "true" ] && STRICT=true

# The embedded defaults are the baseline: services are only ever named explicitly below.
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL EMAIL_URL

RESULTS="$(mktemp -d)"
trap 'rm -rf "$RESULTS"' EXIT
FAILED=()
NOTES=()

step() {  # step NAME COMMAND...: run one step, time it, remember a failure
    local name="$1" start=$SECONDS rc
    shift
    echo
    echo "==> $name"
    "$@"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name (exit $rc)")
        echo "--- $name: FAILED (exit $rc) after $((SECONDS - start))s"
    else
        echo "--- $name: ok in $((SECONDS - start))s"
    fi
}

declare -A STARTED=()  # step id -> "pid name" of a step running in the background

step_start() {  # step_start ID NAME COMMAND...: start a step in the background, its output kept
    local id="$1" name="$2"
    shift 2
    (
        start=$SECONDS
        "$@" >"$RESULTS/$id.log" 2>&1
        echo "$? $((SECONDS - start))" >"$RESULTS/$id.status"
    ) &
    STARTED[$id]="$! $name"
    echo
    echo "==> $name: started"
}

step_finish() {  # step_finish ID: wait for a step started by step_start, show its output
    local id="$1" pid name rc seconds
    read -r pid name <<<"${STARTED[$id]}"
    wait "$pid"
    echo
    echo "==> $name"
    cat "$RESULTS/$id.log"
    read -r rc seconds <"$RESULTS/$id.status" || { rc=1; seconds="?"; }
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name (exit $rc)")
        echo "--- $name: FAILED (exit $rc) after ${seconds}s"
    else
        echo "--- $name: ok in ${seconds}s"
    fi
}

PYTEST_ENV=()  # VAR=value pairs for the next pytest run

run_pytest() {  # run_pytest RESULT_NAME ALLOW_EMPTY PYTEST_ARGS...
    local result="$1" allow_empty="$2" rc
    shift 2
    env "${PYTEST_ENV[@]}" timeout --signal=INT --kill-after=60 "$STEP_TIMEOUT" \
        python -m pytest -q -p no:cacheprovider \
        --junitxml="$RESULTS/$result.xml" "$@" "${EXTRA_ARGS[@]}"
    rc=$?
    if [ "$rc" -eq 5 ]; then
        # pytest's "no tests collected": fine for a marker that has no tests yet.
        echo "(pytest collected no tests for: $*)"
        NOTES+=("$result: no tests collected")
        [ "$allow_empty" = yes ] && return 0
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "(stopped after STEP_TIMEOUT=${STEP_TIMEOUT}s)"
    fi
    return "$rc"
}

services_problems() {  # prints what is unreachable; succeeds only if every service answers
    python - "$PG_URL" "$REDIS_TEST_URL" "$REDIS_TEST_URL_REST" <<'PY'
import sys

import psycopg
import redis

pg_url, *redis_urls = sys.argv[1:]
problems = []
try:
    # The maintenance database always exists; the tests create their own database.
    psycopg.connect(pg_url, dbname="postgres", connect_timeout=3).close()
except Exception as exc:  # noqa: BLE001
    problems.append(f"PostgreSQL at {pg_url}: {' '.join(str(exc).split())}")
for redis_url in redis_urls:  # each half of the run flushes a database of its own
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis at {redis_url}: {exc}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
}

services_missing() {
    echo "PostgreSQL or Redis cannot be reached:"
    printf '  %s\n' "$1"
    echo "CI=true: the PostgreSQL + Redis run is required there, so this step fails."
    return 1
}

step "ruff check" ruff check .
step "migrations are up to date" python manage.py makemigrations --check --dry-run
step "system checks" python manage.py check

# The two runs on the embedded defaults share nothing (each has its own in-memory
# databases, cache and temporary directory), so they run side by side, one per core.
# The second is the same suite for a project on django.contrib.auth's User (username login
# field, optional email), less the tests about the suite's own model, plus tests/auth_user.
step_start sqlite "pytest: SQLite + local memory" run_pytest sqlite no \
    --basetemp="$RESULTS/tmp-sqlite" \
    -m "not services and not postgres and not browser"
step_start auth_user "pytest: on django.contrib.auth's User" run_pytest auth_user no \
    --basetemp="$RESULTS/tmp-auth-user" --ds=tests.settings_auth_user \
    -m "not services and not postgres and not browser and not own_user_model and not own_settings"
step_finish sqlite
step_finish auth_user

if problems="$(services_problems)"; then
    # Much of this run waits on PostgreSQL, Redis and the worker, so its two halves share
    # nothing (a database, a Redis database, a temporary directory each; the services tests
    # start their broker and SMTP server on free ports) and run side by side.
    PYTEST_ENV=(DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_TEST_URL" TEST_DB_NAME="$DB_NAME")
    step_start postgres "pytest: PostgreSQL + Redis, tests/accounts and tests/passkeys" \
        run_pytest postgres no --basetemp="$RESULTS/tmp-postgres" -m "not browser" \
        tests/accounts tests/passkeys
    PYTEST_ENV=(DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_TEST_URL_REST"
                TEST_DB_NAME="${DB_NAME}_rest")
    step_start postgres_rest "pytest: PostgreSQL + Redis, the rest, with the services tests" \
        run_pytest postgres_rest no --basetemp="$RESULTS/tmp-postgres-rest" -m "not browser" \
        --ignore=tests/accounts --ignore=tests/passkeys tests
    step_finish postgres
    # The first half done, its database is free: what PostgreSQL decides for a project on
    # django.contrib.auth's User (its concurrency tests, and the index its login-address
    # lookup needs) runs there beside the second half, then the browser tests beside it.
    PYTEST_ENV=(DATABASE_URL="$PG_URL" REDIS_URL="$REDIS_TEST_URL" TEST_DB_NAME="$DB_NAME")
    step_start postgres_auth_user "pytest: PostgreSQL on django.contrib.auth's User" \
        run_pytest postgres_auth_user no --basetemp="$RESULTS/tmp-postgres-auth-user" \
        --ds=tests.settings_auth_user -m "postgres and not own_user_model and not own_settings"
    PYTEST_ENV=()
    step_finish postgres_rest
    step_start browser "pytest: browser" run_pytest browser yes \
        --basetemp="$RESULTS/tmp-browser" -m browser
    step_finish postgres_auth_user
    step_finish browser
elif $STRICT; then
    step "pytest: PostgreSQL + Redis, with services and concurrency tests" \
        services_missing "$problems"
else
    echo
    echo "==> pytest: PostgreSQL + Redis -- SKIPPED"
    printf '  %s\n' "$problems"
    echo "  Start them (or set TEST_DATABASE_URL / TEST_REDIS_URL) to run the services,"
    echo "  concurrency and PostgreSQL runs; under CI=true this is a failure."
    NOTES+=("PostgreSQL + Redis run skipped: services unreachable")
fi

[ -n "${STARTED[browser]:-}" ] || step "pytest: browser" run_pytest browser yes -m browser

echo
echo "==> summary"
for note in "${NOTES[@]}"; do echo "  note: $note"; done
for failure in "${FAILED[@]}"; do echo "  FAILED: $failure"; done
python - "$RESULTS" <<'PY'
import pathlib
import sys
import xml.etree.ElementTree as ET

totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.xml")):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for key in totals:
            totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"tests: {passed} passed, {failed} failed, {totals['skipped']} skipped")
PY
[ "${#FAILED[@]}" -eq 0 ]
