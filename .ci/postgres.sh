# shellcheck shell=bash
# .ci/postgres.sh: a throwaway PostgreSQL cluster for the store/postgres tests.
#
# Source it, then call the functions:
#
#   source .ci/postgres.sh
#   anpi_pg_start            # installs Debian's postgresql if missing, starts a
#                            # cluster on 127.0.0.1:$ANPI_PG_PORT (55432) and
#                            # exports ANPI_TEST_POSTGRES_URL, ANPI_PG_DATA and
#                            # ANPI_PG_BIN (store/postgres's TestServerCrash
#                            # uses the last two to crash and restart it)
#   trap anpi_pg_stop EXIT   # the caller owns its traps
#   go test ./...
#
# Nothing here changes the caller's shell options or traps. Both functions
# return non-zero on failure (they never exit the caller's shell).
#
# Settings (environment, optional):
#   ANPI_PG_PORT   port to listen on (default 55432)
#   ANPI_PG_FSYNC  on|off (default off: fast, but a power cut loses commits;
#                  durability benchmarks need on)
#
# Running as root is expected (CI); the server itself runs as the postgres
# user. Calling anpi_pg_start again in the same shell is a no-op. A cluster
# this script started from a shell that has since died (a run killed before
# anpi_pg_stop) is stopped and removed; one owned by another live shell, or
# any other listener on the port, is an error.

anpi_pg_log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# anpi_pg__port_busy reports whether something listens on 127.0.0.1:port.
anpi_pg__port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

anpi_pg_start() {
	local port="${ANPI_PG_PORT:-55432}" fsync="${ANPI_PG_FSYNC:-off}"
	local pgbin initdb old owner i
	if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
		anpi_pg_log "installing postgresql (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null || return 1
	fi
	pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
	initdb="$pgbin/initdb"
	[ -x "$initdb" ] || { anpi_pg_log "no initdb under $pgbin"; return 1; }

	# A cluster of this script on the port: started by this shell (calling
	# again is a no-op), left behind by a run that died before anpi_pg_stop
	# (stop it), or owned by another live shell (fail: it may be running
	# tests right now).
	for old in /tmp/anpi-pg.*; do
		[ -f "$old/anpi-pg-port" ] || continue
		[ "$(cat "$old/anpi-pg-port")" = "$port" ] || continue
		owner=$(cat "$old/anpi-pg-owner" 2>/dev/null || true)
		if [ "$owner" = "$$" ] && [ "${ANPI_PG_DATA:-}" = "$old" ] && anpi_pg__port_busy "$port"; then
			anpi_pg_log "already running on 127.0.0.1:$port (data in $old)"
			export ANPI_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/anpi_test?sslmode=disable"
			return 0
		fi
		if [ -n "$owner" ] && [ "$owner" != "$$" ] && kill -0 "$owner" 2>/dev/null; then
			anpi_pg_log "127.0.0.1:$port is used by a cluster of shell $owner, still running (data in $old); set ANPI_PG_PORT or stop it"
			return 1
		fi
		anpi_pg_log "stopping a cluster left by an earlier run in $old"
		su postgres -c "$pgbin/pg_ctl -D '$old/db' -m immediate -w stop" >/dev/null 2>&1 || true
		rm -rf "$old"
	done
	if anpi_pg__port_busy "$port"; then
		anpi_pg_log "127.0.0.1:$port is in use by something this script did not start; set ANPI_PG_PORT or stop it"
		return 1
	fi
	ANPI_PG_DATA=$(mktemp -d /tmp/anpi-pg.XXXXXX) || return 1
	echo "$port" >"$ANPI_PG_DATA/anpi-pg-port"
	echo "$$" >"$ANPI_PG_DATA/anpi-pg-owner"
	ANPI_PG_BIN=$pgbin
	ANPI_PG_DB="$ANPI_PG_DATA/db"
	export ANPI_PG_DATA ANPI_PG_BIN
	if ! { mkdir "$ANPI_PG_DB" && chown -R postgres:postgres "$ANPI_PG_DATA"; }; then
		anpi_pg_stop
		return 1
	fi
	if ! su postgres -c "$initdb -D '$ANPI_PG_DB' -A trust -U postgres -E UTF8 --locale=C.UTF-8" >/dev/null; then
		anpi_pg_log "initdb failed"
		anpi_pg_stop
		return 1
	fi
	if ! su postgres -c "$pgbin/pg_ctl -D '$ANPI_PG_DB' -l '$ANPI_PG_DATA/log' -w -o \"-c listen_addresses=127.0.0.1 -p $port -k '$ANPI_PG_DATA' -c fsync=$fsync -c max_connections=200\" start" >/dev/null; then
		anpi_pg_log "pg_ctl start failed; log follows"
		cat "$ANPI_PG_DATA/log" >&2
		anpi_pg_stop
		return 1
	fi
	for i in 1 2 3 4 5 6 7 8 9 10; do
		if su postgres -c "$pgbin/psql -q -h 127.0.0.1 -p $port -U postgres -c 'CREATE DATABASE anpi_test'" >/dev/null 2>&1; then
			break
		fi
		[ "$i" = 10 ] && { anpi_pg_log "CREATE DATABASE failed"; anpi_pg_stop; return 1; }
		sleep 0.5
	done
	export ANPI_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/anpi_test?sslmode=disable"
	anpi_pg_log "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (fsync=$fsync), data in $ANPI_PG_DATA"
}

anpi_pg_stop() {
	[ -n "${ANPI_PG_DATA:-}" ] || return 0
	if [ -d "$ANPI_PG_DATA/db" ]; then
		su postgres -c "$ANPI_PG_BIN/pg_ctl -D '$ANPI_PG_DATA/db' -m fast -w stop" >/dev/null 2>&1 ||
			su postgres -c "$ANPI_PG_BIN/pg_ctl -D '$ANPI_PG_DATA/db' -m immediate -w stop" >/dev/null 2>&1 || true
	fi
	rm -rf "$ANPI_PG_DATA"
	unset ANPI_PG_DATA ANPI_TEST_POSTGRES_URL
}
