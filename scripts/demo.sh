#!/usr/bin/env bash
# The demo: a local site on the embedded defaults (SQLite in var/, local-memory cache, Celery
# tasks run in-process, emails shown on the DEBUG-only mailbox page), with a ready account.
#
#   bash scripts/demo.sh     then open http://localhost:8000/
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh
venv_ready

# The demo shows the embedded defaults; run manage.py yourself to try PostgreSQL, Redis or SMTP.
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL EMAIL_URL
export DJANGO_SETTINGS_MODULE=authsuite.settings

python manage.py migrate --noinput
python manage.py demo_user --email demo@example.com --password demo-password-2026

cat <<'TEXT'

authsuite demo: http://localhost:8000/  (passkeys need the name localhost, not 127.0.0.1)

  Sign in        http://localhost:8000/accounts/login/
                 demo@example.com / demo-password-2026 (a verified address)
  Sign up        http://localhost:8000/accounts/signup/
  Magic link     http://localhost:8000/accounts/magic-link/
  Mail           every email the site sends (verification, sign-in links, alerts)
                 appears at http://127.0.0.1:8000/mailbox/ (same page on localhost)
  API docs       http://localhost:8000/api/auth/v1/docs/

Data lives in var/demo.sqlite3; delete it to start over. Ctrl-C stops the server.

TEXT
exec python manage.py runserver 127.0.0.1:8000
