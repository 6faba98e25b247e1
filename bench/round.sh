#!/usr/bin/env bash
# Every benchmark of BENCHMARKS.md, one after the other, as its final round was taken ("Summary:
# the final round"): before each, it waits (5 minutes at most) for the one-minute load average to
# fall under 1, so that one bench's tail does not weigh on the next. Prints each bench's own
# output under a heading with the time and load. Takes about 25 minutes on 2 cores.
#
# usage: bench/round.sh
#   RAMPART_TEST_POSTGRES_URL  the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
#   RAMPART_BIN                the rampart binary to measure (default target/release/rampart, built)
# Needs python3; the benches install the Debian packages they miss (curl, jq, wrk, psql, lxml,
# oscap).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
. bench/lib.sh

pg=${RAMPART_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
if [ -z "${RAMPART_BIN:-}" ]; then
  cargo build -q --release --bin rampart
  export RAMPART_BIN=$PWD/target/release/rampart
fi
cargo bench -q -p rampart-domain --bench parse --no-run

# step NAME: a heading, once the load has settled (or after 5 minutes of waiting for it).
step() {
  for _ in $(seq 1 60); do
    awk '{ exit !($1 < 1.0) }' /proc/loadavg && break
    sleep 5
  done
  echo
  # The cargo benches and tests build the working tree: --dirty says when it is not a commit.
  echo "=== $* ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $(git describe --always --dirty))"
}

for run in 1 2; do
  step "parser against lxml and oscap, run $run"
  PARSE_COMPARE_ROUNDS=5 bench/parse-compare.sh
done
step "parser, in-process table"
cargo bench -q -p rampart-domain --bench parse -- --iterations 50
step "fleet run, 5,000 machines, SQLite"
bench/fleet-run.sh
step "fleet run, 5,000 machines, PostgreSQL"
bench/fleet-run.sh --database-url "$pg"
step ":execute alone, 5,000 computers, PostgreSQL"
bench/execute.sh --database-url "$pg" --instances 5000 --runs 4
step "API under load and the detailed report in a restarted server, both backends"
bench/api-load.sh --report
step "API under load and the detailed report in the server that ingested the run, both backends"
API_LOAD_RUNS=1 API_LOAD_SECONDS=10 bench/api-load.sh --report-in-place
step "detailed report in-process, 5,000 x 189, both backends"
RAMPART_TEST_POSTGRES_URL=$pg RAMPART_REPORT_MACHINES=5000 RAMPART_REPORT_RULES=189 RAMPART_REPORT_REPEAT=3 \
  cargo test -q --release -p rampart-server --test report_memory -- --ignored --nocapture --test-threads=1
step "two servers on one PostgreSQL, 5,000 machines"
bench/fleet-run.sh --instances 5000 --thin-only --servers 2 --database-url "$pg"
step "20,000 machines on PostgreSQL"
bench/fleet-run.sh --instances 20000 --thin-only --database-url "$pg"
step "done"
