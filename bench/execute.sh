#!/usr/bin/env bash
# `:execute` alone on PostgreSQL (BENCHMARKS.md, "End-to-end fleet run (5,000 machines)"): a fresh
# server on a database of its own (rampart_bench_execute_<pid>, dropped at the end), N computers
# written straight into it (no agents: nothing polls or uploads), one profile covering them, and
# R runs started one after the other with `POST /api/v2/security-profiles/<id>:execute`. For each
# run it prints the answer's time (curl's total) and the CPU time the database's own backends
# used for it (from /proc, so other databases' work on the same server is not counted): the
# answer's time follows the machine's load, the CPU time much less.
#
# usage: bench/execute.sh --database-url postgres://…/postgres [--instances N] [--runs R] [--keep]
#   RAMPART_BIN  the server binary (default target/release/rampart, built when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
. bench/lib.sh

instances=5000 runs=5 pg_url= keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --database-url) pg_url=${2:?--database-url needs a URL}; shift ;;
    --instances) instances=${2:?--instances needs a number}; shift ;;
    --runs) runs=${2:?--runs needs a number}; shift ;;
    --keep) keep=1 ;;
    *) echo "usage: $0 --database-url postgres://… [--instances N] [--runs R] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$pg_url" ] || { echo "--database-url is needed (this measures PostgreSQL)" >&2; exit 2; }
case "$instances$runs" in *[!0-9]*) echo "--instances and --runs are numbers" >&2; exit 2 ;; esac
for tool in curl jq; do
  command -v "$tool" >/dev/null || install_missing "$tool"
done
command -v psql >/dev/null || install_missing postgresql-client
bin=${RAMPART_BIN:-target/release/rampart}
[ -n "${RAMPART_BIN:-}" ] || cargo build --release --bin rampart -q

dir=$(mktemp -d /tmp/rampart-execute.XXXXXX) db=rampart_bench_execute_$$ server=
cleanup() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; }
  if [ -z "$keep" ]; then
    psql "$pg_url" -Atqc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$dir"
  else
    echo "kept $dir and database $db" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
psql "$pg_url" -Atqc "CREATE DATABASE $db" >/dev/null
export RAMPART_DATABASE_URL="${pg_url%/*}/$db" RAMPART_DATA_DIR=$dir/data RAMPART_LOG=${RAMPART_LOG:-warn}
export RAMPART_MAX_INSTANCES_PER_PROFILE=$instances
sql() { psql "$RAMPART_DATABASE_URL" -AtqF ' ' -v ON_ERROR_STOP=1 -c "$1"; }

port=$(free_port)
base=http://127.0.0.1:$port
bench_user "$bin"
RAMPART_LISTEN=127.0.0.1:$port "$bin" serve >"$dir/server.log" 2>&1 &
server=$!
await_server "$base" "$server" "$dir/server.log"
jwt=$(bench_login "$base" | jq -r .token)

# The computers, as registration writes them (account, access group, tag), without agents.
sql "INSERT INTO computers (account_id, hostname, system_hostname, title, access_group_id,
       secret_hash, registration_time)
     SELECT a.id, 'm' || i, 'vm', 'm' || i, g.id, repeat('0', 64), now()
     FROM generate_series(1, $instances) i, accounts a
     JOIN access_groups g ON g.account_id = a.id AND g.name = 'global' WHERE a.name = 'standalone';
     INSERT INTO computer_tags (computer_id, tag) SELECT id, 'execute' FROM computers;
     ANALYZE;"
profile=$(api -X POST "$base/api/v2/security-profiles" -d '{"benchmark": "cis_level1_server",
  "mode": "audit", "schedule": "RRULE:FREQ=WEEKLY", "title": "execute",
  "start_date": "2099-01-05T02:00:00Z", "tags": ["execute"]}' | jq -r .id)

# CPU seconds (user + system) of the backends connected to this database.
backends_cpu() {
  local t=0 p hz
  hz=$(getconf CLK_TCK)
  for p in $(sql "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()"); do
    t=$(awk -v t="$t" -v hz="$hz" '{print t + ($14 + $15) / hz}' "/proc/$p/stat" 2>/dev/null || echo "$t")
  done
  echo "$t"
}

echo "== :execute over $instances computers on PostgreSQL, $runs runs ($(nproc) CPUs, load $(load))"
for r in $(seq 1 "$runs"); do
  before=$(load) cpu0=$(backends_cpu)
  answered=$(api -o /dev/null -w '%{time_total}' -X POST "$base/api/v2/security-profiles/$profile:execute")
  sleep 0.2
  cpu=$(echo "$cpu0 $(backends_cpu)" | awk '{printf "%.0f", ($2 - $1) * 1000}')
  made=$(sql "SELECT instances FROM runs WHERE id = (SELECT last_run_id FROM security_profiles WHERE id = $profile)")
  [ "$made" = "$instances" ] || { echo "run $r has $made instances, not $instances" >&2; exit 1; }
  printf 'run %d: :execute answered in %.0f ms · PostgreSQL CPU %s ms (this database'"'"'s backends) · %s instances · load %s before, %s after\n' \
    "$r" "$(echo "$answered" | awk '{print $1 * 1000}')" "$cpu" "$made" "$before" "$(load)"
done
