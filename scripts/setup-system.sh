#!/usr/bin/env bash
# System packages the tests need that pip cannot provide, installed if missing (Debian/Ubuntu):
#   ffmpeg     serves the 1080p clip as a live RTSP stream in the service tests and benchmarks
#   mosquitto  the MQTT broker that alerts are published to (tests subscribe to the real one)
#   chromium   the browser the console's end-to-end tests drive headless (Playwright, tests/e2e)
set -u

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing ${need[*]}"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }; then
    echo "could not install ${need[*]}: the live service tests need them" >&2
  fi
fi
