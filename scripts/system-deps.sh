#!/usr/bin/env bash
# Installs the Debian packages CityOps needs, when run as root; otherwise says in one line what is missing.
#   run:  mosquitto is preferred (a pure-Python broker is used without it)
#   test: mosquitto, chromium, chromium-driver, CJK fonts and openssl (test certificates) are required
set -euo pipefail
profile=${1:-test}
declare -A probe=(
  [mosquitto]="command -v mosquitto || test -x /usr/sbin/mosquitto"
  [chromium]="test -x /usr/bin/chromium"
  [chromium-driver]="test -x /usr/bin/chromedriver"
  [fonts-noto-cjk]="test -d /usr/share/fonts/opentype/noto"
  [openssl]="command -v openssl"
)
if [ "$profile" = run ]; then wanted=(mosquitto); else wanted=(mosquitto chromium chromium-driver fonts-noto-cjk openssl); fi
missing=()
for pkg in "${wanted[@]}"; do
  eval "${probe[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
if [ "$profile" = run ]; then
  echo "note: mosquitto is not installed; using the built-in Python broker (sudo apt-get install mosquitto for the real one)"
  exit 0
fi
echo "Missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
