#!/bin/sh
# Installs the Debian packages HRID needs for a purpose, and only those that
# are missing.  Idempotent and silent when everything is present; must run
# as root (or through sudo) on Debian 12 when something is missing.
#
#   scripts/install-deps.sh build   compiler and libraries (libpq for the
#                                   PostgreSQL store)
#   scripts/install-deps.sh test    build + test tools (cmocka, clang, python3,
#                                   the mosquitto broker and its clients,
#                                   for the portal's browser tests chromium,
#                                   nodejs, npm, and for the PostgreSQL and
#                                   two-node tests postgresql and nginx)
#   scripts/install-deps.sh bench   build + load generator, the broker and
#                                   signing library of bench_mqtt.py, and
#                                   postgresql
#   scripts/install-deps.sh web     what builds the portal (nodejs, npm)
#
# Debian's postgresql package creates and starts a cluster "main" on port
# 5432; HRID's tests and benchmarks never use it (tests/pgcluster.py starts
# throw-away clusters of its own), so it is left as the package set it up.
set -eu

build="build-essential pkg-config libsodium-dev libjansson-dev libmicrohttpd-dev
libsqlite3-dev libcurl4-openssl-dev libqrencode-dev libpng-dev libssl-dev
libmosquitto-dev libpq-dev"
web="nodejs npm"
test="$build libcmocka-dev clang libclang-rt-14-dev python3 sqlite3 curl zbar-tools
mosquitto mosquitto-clients openssl $web chromium postgresql nginx"
bench="$build wrk mosquitto python3-cryptography postgresql"

case "${1:-build}" in
build) want=$build ;;
test) want=$test ;;
bench) want=$bench ;;
web) want=$web ;;
*) echo "usage: $0 build|test|bench|web" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	# A Node.js from elsewhere will do: NodeSource's nodejs bundles npm
	# and conflicts with Debian's npm package.
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$s" = "install ok installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-deps: missing packages:$missing; run as root" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
