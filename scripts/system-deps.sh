#!/usr/bin/env bash
# Installs the Debian packages CityOps needs, when run as root; otherwise says in one line what is missing.
#   run:  mosquitto is preferred (a pure-Python broker is used without it); Pango and CJK fonts make the reports' PDFs
#   test: mosquitto, chromium, chromium-driver, CJK fonts, openssl (test certificates), Pango and PostgreSQL (its
#         initdb and pg_ctl start private servers for the store's second engine) are required
set -euo pipefail
profile=${1:-test}
declare -A probe=(
  [mosquitto]="command -v mosquitto || test -x /usr/sbin/mosquitto"
  [chromium]="test -x /usr/bin/chromium"
  [chromium-driver]="test -x /usr/bin/chromedriver"
  [fonts-noto-cjk]="test -d /usr/share/fonts/opentype/noto"
  [openssl]="command -v openssl"
  [libpangoft2-1.0-0]="compgen -G '/usr/lib/*/libpangoft2-1.0.so.0' || compgen -G '/usr/lib*/libpangoft2-1.0.so.0'"
  [postgresql]="compgen -G '/usr/lib/postgresql/*/bin/initdb'"
)
if [ "$profile" = run ]; then wanted=(mosquitto libpangoft2-1.0-0 fonts-noto-cjk)
else wanted=(mosquitto chromium chromium-driver fonts-noto-cjk openssl libpangoft2-1.0-0 postgresql); fi
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
  for pkg in "${missing[@]}"; do
    case $pkg in
      mosquitto) echo "note: mosquitto is not installed; using the built-in Python broker (sudo apt-get install mosquitto for the real one)" ;;
      *) echo "note: $pkg is not installed; reports are kept as HTML without their PDF (sudo apt-get install $pkg)" ;;
    esac
  done
  exit 0
fi
echo "Missing Debian packages: ${missing[*]} — install them with: sudo apt-get install ${missing[*]}" >&2
exit 1
