#!/usr/bin/env bash
# Makes sure the services the tests use run on their default local ports:
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth on loopback) and
# Redis on 127.0.0.1:6379, and that the redis-server and nginx binaries of the
# topology test and the chromium of the browser tests exist. On a machine that lacks them it installs them from
# Debian's packages and starts them. It never fails the build by itself: a
# test that then cannot reach a service skips locally and fails under CI=true.
set -u

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq >/dev/null 2>&1; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  command -v pg_ctlcluster >/dev/null 2>&1 || { echo "services: installing postgresql"; apt_install postgresql postgresql-client; }
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$ver" ]; then
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    # Loopback connections as in the tests' DSN: trust, like this project's dev machines.
    if ! as_root grep -q '^host all all 127.0.0.1/32 trust' "$hba" 2>/dev/null; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba" 2>/dev/null || true
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 ||
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
pg_up && echo "services: postgresql ready on 127.0.0.1:5432" || echo "services: postgresql NOT reachable"

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || { echo "services: installing redis"; apt_install redis-server; }
  as_root mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
redis_up && echo "services: redis ready on 127.0.0.1:6379" || echo "services: redis NOT reachable"

# The topology test (internal/clustertest) runs private redis-server and nginx
# processes of its own on free loopback ports: only the binaries are needed.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
has redis-server || { echo "services: installing redis-server"; apt_install redis-server; }
# Debian's package may try to start a system nginx on port 80; the test never
# uses it, and the binary is installed even when that start fails.
has nginx || { echo "services: installing nginx"; apt_install nginx; }
has nginx && echo "services: nginx available" || echo "services: nginx NOT available"

# The browser tests (internal/e2etest) drive Debian's Chromium through
# playwright-core; Playwright's own browser download is never used.
[ -x /usr/bin/chromium ] || { echo "services: installing chromium"; apt_install chromium; }
[ -x /usr/bin/chromium ] && echo "services: chromium available" || echo "services: chromium NOT available"
exit 0
