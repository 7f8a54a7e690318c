#!/bin/sh
# The portal load benchmark as the README reports it: the full demo
# (2,000 generated subscribers) on PostgreSQL, served as in production by
# gunicorn with WORKERS processes, then portal_load.py with 20 users for
# 60 s without pause and with a mean pause of 2 s between pages.
#
#   tests/benchmarks/portal_load.sh [WORKERS]
#
# WORKERS defaults to the number of cores. The environment may set
# TRYTOND_DATABASE__URI (default: PostgreSQL on 127.0.0.1 as postgres),
# DATABASE (default water_portal; built by `water setup --demo` when
# missing, which takes minutes), PORT (default 8000), USERS, DURATION.
set -eu
cd "$(dirname "$0")/../.."
BIN=.venv/bin
WORKERS=${1:-$(nproc)}
DATABASE=${DATABASE:-water_portal}
PORT=${PORT:-8000}
URL=http://127.0.0.1:$PORT
export TRYTOND_DATABASE__URI="${TRYTOND_DATABASE__URI:-postgresql://postgres@127.0.0.1:5432/}"
# the portal serves this database; no configuration file is read
export TRYTOND_WATER__DATABASE="$DATABASE"
unset TRYTOND_CONFIG
mkdir -p var
[ -f var/admin-password ] || echo water-admin > var/admin-password
$BIN/water -d "$DATABASE" setup --demo --password-file var/admin-password \
    --stamp "var/$DATABASE.modules"
$BIN/gunicorn --workers "$WORKERS" --bind "127.0.0.1:$PORT" \
    trytond.application:app &
server=$!
trap 'kill $server' EXIT
until $BIN/python -c "import urllib.request as u; u.urlopen('$URL/portal/login')" \
        2>/dev/null; do
    sleep 1
done
uptime
for think in 0 2; do
    echo "gunicorn, $WORKERS workers; --think $think"
    $BIN/python tests/benchmarks/portal_load.py "$URL" \
        --users "${USERS:-20}" --duration "${DURATION:-60}" --think $think
done
