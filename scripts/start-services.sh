#!/usr/bin/env bash
# Start the local services the integration tests talk to, if they are not running yet.
# The tests use the real servers on localhost; this only starts what is installed.
set -u

"$(dirname "$0")/setup-system.sh"  # ffmpeg, mosquitto and chromium, if missing

if command -v pg_ctlcluster >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$version" ]; then
      echo "starting PostgreSQL $version"
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && echo "PostgreSQL ready" || echo "PostgreSQL not available: its tests will be skipped"

mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && [ -x "$mosquitto_bin" ]; then
  echo "starting Mosquitto"
  "$mosquitto_bin" -d  # no config: listens on localhost only
  for _ in $(seq 1 20); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.5; done
fi
(exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && echo "Mosquitto ready" || echo "Mosquitto not available: the MQTT test will fail"
