#!/usr/bin/env bash
# Follow docs/deployment.md on this machine with PostgreSQL for both stores, and check that each
# step does what the document says. Needs a PostgreSQL server where the current user can create
# roles and databases (CHECK_PG_ADMIN, default postgresql://postgres@127.0.0.1:5432/postgres) and
# the project's .venv (make setup). Cleans up after itself. Takes about a minute.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$REPO/.venv/bin"
ADMIN_URL="${CHECK_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}"
PGHOSTPORT="$(echo "$ADMIN_URL" | sed -E 's#^postgresql://[^@]*@([^/]*)/.*#\1#')"
SUFFIX="$(date +%s)$$"
DB="jingxin_chk_$SUFFIX"
ROLE="jingxin_chk_$SUFFIX"
PASSWORD="chk-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
WORK="$(mktemp -d)"
PORT="${CHECK_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
SERVER_PID=""

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" "$@"; }

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  psql_admin -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" -c "DROP DATABASE IF EXISTS \"${DB}_restore\" WITH (FORCE)" \
    -c "DROP ROLE IF EXISTS \"$ROLE\"" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

step "1. PostgreSQL: a role and a database owned by it"
psql_admin -c "CREATE ROLE \"$ROLE\" LOGIN PASSWORD '$PASSWORD'" -c "CREATE DATABASE \"$DB\" OWNER \"$ROLE\""
APP_URL="postgresql://$ROLE:$PASSWORD@$PGHOSTPORT/$DB"

step "2. Configuration: .env from .env.example, mode 0600"
cp "$REPO/.env.example" "$WORK/.env"
chmod 600 "$WORK/.env"
METRICS_TOKEN="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
cat >> "$WORK/.env" <<ENV
JINGXIN_HOME=$WORK/home
JINGXIN_WAREHOUSE=$APP_URL?schema=warehouse
JINGXIN_DATABASE_URL=${APP_URL/postgresql:/postgresql+psycopg:}
JINGXIN_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
JINGXIN_LOG_FORMAT=json
JINGXIN_METRICS_TOKEN=$METRICS_TOKEN
JINGXIN_TRUSTED_PROXIES=127.0.0.1
ENV
[ "$(stat -c %a "$WORK/.env")" = "600" ] || fail ".env is not mode 600"
cd "$WORK"

step "3. An administrator"
"$BIN/jingxin" users add opsadmin --role admin --password "Chk-$PASSWORD" --json >/dev/null

step "4. serve --workers 2 --proxy-headers (migrates once, then starts both processes)"
"$BIN/jingxin" serve --workers 2 --proxy-headers --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 180); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/login" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; fail "server exited"; }
  sleep 1
done
code=$(curl -s -o "$WORK/login.html" -w '%{http_code}' "http://127.0.0.1:$PORT/login")
[ "$code" = 200 ] || fail "login page answered $code"
grep -q 'name="password"' "$WORK/login.html" || fail "no login form"

step "6. Behind the proxy: the proxy's request id is echoed"
headers=$(curl -s -D - -o /dev/null -H 'X-Forwarded-For: 203.0.113.9' -H 'X-Request-ID: chk-deploy-1' \
  "http://127.0.0.1:$PORT/api/v1/me")
echo "$headers" | grep -qi '^x-request-id: chk-deploy-1' || fail "request id not echoed"
echo "$headers" | head -1 | grep -q ' 401' || fail "anonymous /api/v1/me must be 401"

step "7. Logs and metrics"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
[ "$code" = 403 ] || fail "/metrics without token answered $code"
for _ in 1 2 3 4 5 6; do curl -s -o /dev/null "http://127.0.0.1:$PORT/login"; done
curl -fs -H "Authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
login_count=$(grep -E '^jingxin_http_requests_total\{.*route="/login".*status="200"' "$WORK/metrics.txt" \
  | awk '{s+=$2} END {print s+0}')
python3 -c "import sys; sys.exit(0 if float('$login_count') >= 8 else 1)" \
  || fail "metrics count $login_count logins, expected at least 8 (summed over both processes)"
[ -n "$(ls "$WORK/home/prometheus")" ] || fail "no multiprocess metric files"
grep -q '"request_id": "chk-deploy-1"' "$WORK/server.log" || fail "no JSON log line with the request id"

step "8. Backups: pg_dump while serving, pg_restore into a scratch database, counts compared"
pg_dump --format=custom --file="$WORK/jingxin.dump" "$APP_URL"
psql_admin -c "CREATE DATABASE \"${DB}_restore\" OWNER \"$ROLE\""
pg_restore --no-owner --role="$ROLE" --dbname="postgresql://$ROLE:$PASSWORD@$PGHOSTPORT/${DB}_restore" "$WORK/jingxin.dump"
count() { psql -X -tA "$1" -c "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM audit_log) || '/' || (SELECT count(*) FROM alembic_version)"; }
live=$(count "$APP_URL"); restored=$(count "postgresql://$ROLE:$PASSWORD@$PGHOSTPORT/${DB}_restore")
[ "$live" = "$restored" ] || fail "restored counts $restored differ from live $live"
"$BIN/jingxin" backup "$WORK/embedded-backup" 2>"$WORK/backup.err" && fail "jingxin backup must refuse PostgreSQL"
grep -q pg_dump "$WORK/backup.err" || fail "the refusal must point to pg_dump"

step "9. Upgrades: the database is at the newest Alembic revision"
current=$("$BIN/alembic" -c "$REPO/alembic.ini" current 2>/dev/null | awk '{print $1}')
head=$("$BIN/alembic" -c "$REPO/alembic.ini" heads 2>/dev/null | awk '{print $1}')
[ -n "$current" ] && [ "$current" = "$head" ] || fail "database at '$current', head is '$head'"

printf '\ndocs/deployment.md checked: PostgreSQL for both stores, 2 server processes, metrics, logs, backups, migrations.\n'
