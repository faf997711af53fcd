#!/usr/bin/env bash
# Makes sure the servers the tests use answer on 127.0.0.1: PostgreSQL 15 (:5432, user postgres,
# trust on loopback, database `test`), Redis (:6379) and, when asked, RabbitMQ (:5672, guest).
# Usage: scripts/ensure-services.sh [postgresql] [redis] [rabbitmq]   (default: postgresql redis)
# Idempotent and fast when they already answer; otherwise installs Debian's packages (apt, as
# scripts/install-browser.sh does for the browser) and starts them. Exits non-zero, saying what
# is missing, when a server still does not answer: tests are never skipped for want of one.
set -euo pipefail

SERVICES=("$@")
if [ ${#SERVICES[@]} -eq 0 ]; then
    SERVICES=(postgresql redis)
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=""

answers() { # port: does something listen on 127.0.0.1:port?
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for() { # port name
    for _ in $(seq 1 60); do
        if answers "$1"; then
            return 0
        fi
        sleep 0.5
    done
    echo "ensure-services: $2 does not answer on 127.0.0.1:$1" >&2
    return 1
}

apt_install() {
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_postgresql() {
    if ! answers 5432; then
        if [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then
            apt_install postgresql-15 postgresql-client-15
        fi
        if [ ! -d /etc/postgresql/15/main ]; then
            $SUDO pg_createcluster 15 main
        fi
        # The tests connect as postgres without a password, on loopback only.
        hba=/etc/postgresql/15/main/pg_hba.conf
        if ! $SUDO grep -q "^host all postgres 127.0.0.1/32 trust" "$hba"; then
            $SUDO sed -i "1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust" "$hba"
        fi
        $SUDO pg_ctlcluster 15 main start
        wait_for 5432 PostgreSQL
    fi
    if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc "SELECT 1" >/dev/null 2>&1; then
        echo "ensure-services: PostgreSQL answers but not as user postgres without a password" >&2
        return 1
    fi
    if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = 'test'")" != "1" ]; then
        psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE test" >/dev/null
    fi
}

ensure_redis() {
    if answers 6379; then
        return 0
    fi
    if ! command -v redis-server >/dev/null; then
        apt_install redis-server
    fi
    # Started directly (no init system needed), bound to loopback only.
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    wait_for 6379 Redis
}

ensure_rabbitmq() {
    if answers 5672; then
        return 0
    fi
    if ! command -v rabbitmq-server >/dev/null; then
        apt_install rabbitmq-server
    fi
    echo "NODE_IP_ADDRESS=127.0.0.1" | $SUDO tee /etc/rabbitmq/rabbitmq-env.conf >/dev/null
    $SUDO rabbitmq-server -detached
    wait_for 5672 RabbitMQ
}

for service in "${SERVICES[@]}"; do
    case "$service" in
        postgresql) ensure_postgresql ;;
        redis) ensure_redis ;;
        rabbitmq) ensure_rabbitmq ;;
        *)
            echo "ensure-services: unknown service '$service' (postgresql, redis, rabbitmq)" >&2
            exit 2
            ;;
    esac
done
