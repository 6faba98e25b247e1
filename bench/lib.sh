# shellcheck shell=bash
# What the bench scripts share. Each script sources it right after moving to the repository's root
# (`cd "$(dirname "$0")/.."`, then `. bench/lib.sh`), so it works from any directory. Sourcing it
# only defines functions (it runs nothing and sets no option); every script keeps its own
# `set -euo pipefail`, options, cleanup traps and messages.
#
#   fixtures_dir                the fixtures folder
#   install_missing PACKAGE…    installs the Debian packages named, saying so on stderr
#   apt_install PACKAGE…        installs them without saying so
#   free_port                   a free TCP port on 127.0.0.1
#   load                        the load average of the last minute
#   bench_user BIN [OPTIONS…]   creates the benches' user; bench_login URL logs it in
#   api CURL-ARGUMENT…          curl as that user ($jwt)
#   await_server URL PID LOG    waits for a started `rampart serve` to answer

# The fixtures folder: RAMPART_FIXTURES, else ../shared/fixtures beside the checkout (the scripts
# run from its root; printed as an absolute path), else /work/shared/fixtures.
fixtures_dir() {
  if [ -n "${RAMPART_FIXTURES:-}" ]; then
    printf '%s\n' "$RAMPART_FIXTURES"
  elif [ -d ../shared/fixtures ]; then
    (cd ../shared/fixtures && pwd)
  else
    echo /work/shared/fixtures
  fi
}

# apt_install PACKAGE…: the Debian packages installed with apt-get, its output dropped.
apt_install() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# install_missing PACKAGE…: apt_install, first saying "installing PACKAGE…" on stderr; with no
# package named (nothing missing), nothing.
install_missing() {
  [ $# -gt 0 ] || return 0
  echo "installing $*" >&2
  apt_install "$@"
}

# A free TCP port on loopback (needs python3).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The load average over the last minute (the first field of /proc/loadavg).
load() { cut -d' ' -f1 /proc/loadavg; }

# bench_user BIN [OPTIONS…]: the user the benches log in as, created with `BIN admin
# create-user OPTIONS…` (the options say which database, where the environment does not).
bench_user() {
  local bin=$1
  shift
  "$bin" admin create-user "$@" --email bench@example.com --password 'bench password' >/dev/null
}

# bench_login URL: the answer of that user's `POST URL/api/v2/login` (JSON; its token is
# `.token`), or a failure.
bench_login() {
  curl -fsS -X POST "$1/api/v2/login" -d '{"email": "bench@example.com", "password": "bench password"}'
}

# api CURL-ARGUMENT…: curl -fsS with the caller's $jwt (from bench_login) as bearer token.
# shellcheck disable=SC2154 # jwt is the caller's
api() { curl -fsS -H "Authorization: Bearer $jwt" "$@"; }

# await_server URL PID LOG: waits, 10 s at the most, for the server at URL (`rampart serve`
# started in the background as PID, writing LOG) to answer; if PID has stopped by then, prints
# LOG on stderr and exits 1. A server still running but silent after 10 s is left to the
# requests that follow to fail.
await_server() {
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$1/api/v2/openapi.json" && break; sleep 0.1; done
  kill -0 "$2" || { cat "$3" >&2; exit 1; }
}
