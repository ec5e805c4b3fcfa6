#!/usr/bin/env bash
# Installs the peer SMTP servers for benchmarks/peers/compare.sh (idempotent; run as root).
#   Postfix: Debian package, installed with "No configuration" so the system instance stays unconfigured
#            and is never started; postfix.sh runs a private instance under a work dir.
#   Haraka:  npm, pinned to HARAKA_VERSION (default 3.3.4), installed globally.
# Prints the versions it ends up with.
set -euo pipefail
HARAKA_VERSION="${HARAKA_VERSION:-3.3.4}"
export DEBIAN_FRONTEND=noninteractive

if ! command -v postconf >/dev/null 2>&1 || ! [ -x /usr/sbin/postfix ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix procps >/dev/null
  command -v python3 >/dev/null || apt-get install -y -qq --no-install-recommends python3 >/dev/null
fi
# The Debian package may have started the system instance (it should not with "No configuration"); we
# do not use it, and leave it alone if it is someone else's.

if ! command -v node >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: Haraka $HARAKA_VERSION needs node >= 20, found $(node --version)" >&2; exit 1
fi

have_haraka=""
if command -v haraka >/dev/null 2>&1; then
  have_haraka=$(npm ls -g --depth=0 --json 2>/dev/null | python3 -c \
    'import json,sys; d=json.load(sys.stdin).get("dependencies",{}); print(d.get("Haraka",{}).get("version",""))' || true)
fi
if [ "$have_haraka" != "$HARAKA_VERSION" ]; then
  npm install -g --no-fund --no-audit "Haraka@$HARAKA_VERSION" >/dev/null
fi

echo "postfix $(postconf -d -h mail_version 2>/dev/null || echo '?')"
echo "haraka $(npm ls -g --depth=0 --json 2>/dev/null | python3 -c \
  'import json,sys; print(json.load(sys.stdin)["dependencies"]["Haraka"]["version"])') (node $(node --version))"
echo "python3 $(python3 -c 'import platform; print(platform.python_version())')"
