# clilib.sh - the harness shared by the tests/cli_*.sh scripts; sourced, never run by itself
# (its name keeps it out of tests/CMakeLists.txt's cli_*.sh glob).
#
# Sourcing it (with the script's own arguments, /path/to/seqlm [shared-data-dir]) sets SEQLM
# (made absolute), DATA (the shared data directory, maybe empty) and GOLDEN (tests/golden),
# and exits 77 (skip) when SEQLM is not an executable. Then the script calls
#   cli_require CMD...   skip (exit 77) unless every CMD is installed
#   cli_tmpdir NAME      make a temporary directory $T, removed on exit, and cd into it
# and ends with `cli_finish`, which prints "N passed, M failed" and returns non-zero when
# anything failed.

if [ $# -lt 1 ]; then
    echo "usage: $0 /path/to/seqlm [shared-data-dir]" >&2
    exit 2
fi
SEQLM=$1
case $SEQLM in /*) ;; *) SEQLM=$(cd "$(dirname "$SEQLM")" && pwd)/$(basename "$SEQLM") ;; esac
DATA=${2:-}
GOLDEN=$(cd "$(dirname "$0")" && pwd)/golden
if [ ! -x "$SEQLM" ]; then
    echo "SKIP: $SEQLM is not an executable"
    exit 77
fi

npass=0
nfail=0
rc=0
last_cmd=
T=

# cli_require CMD...: exits 77 (skip) unless every CMD is on the PATH.
cli_require() {
    local cmd
    for cmd in "$@"; do
        if ! command -v "$cmd" >/dev/null 2>&1; then
            echo "SKIP: the checks need $* ($cmd is missing)"
            exit 77
        fi
    done
}

# cli_tmpdir NAME: a temporary directory $T (removed on exit) becomes the working directory.
cli_tmpdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/seqlm-$1.XXXXXX")
    trap 'rm -rf "$T"' EXIT
    cd "$T" || exit 1
}

# cli_finish: the summary line; the status is non-zero when anything failed.
cli_finish() {
    echo "$npass passed, $nfail failed"
    [ "$nfail" -eq 0 ]
}

# --- helpers -------------------------------------------------------------------------------

pass() {
    echo "PASS: $1"
    npass=$((npass + 1))
}

# fail NAME [detail lines...]: the details, the last command (if any) and its stderr are
# printed. With CLI_HIDE_WARNINGS set, "seqlm: warning:" lines of the stderr are left out.
fail() {
    echo "FAIL: $1"
    shift
    local line
    for line in "$@"; do [ -n "$line" ] && echo "      $line"; done
    if [ -n "$last_cmd" ]; then echo "      last command: $last_cmd (exit status $rc)"; fi
    if [ -n "$T" ] && [ -s "$T/stderr" ]; then
        if [ -n "${CLI_HIDE_WARNINGS:-}" ]; then
            grep -v '^seqlm: warning:' "$T/stderr" | head -n 8 | sed 's/^/      stderr: /'
        else
            head -n 8 "$T/stderr" | sed 's/^/      stderr: /'
        fi
    fi
    nfail=$((nfail + 1))
}

# check NAME STATUS [details...]: pass if the status is 0.
check() {
    local name=$1 status=$2
    shift 2
    if [ "$status" -eq 0 ]; then pass "$name"; else fail "$name" "$@"; fi
}

# check_cmd NAME COMMAND...: pass when the command succeeds.
check_cmd() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# run CMD...: stdout to $T/stdout, stderr to $T/stderr, status in $rc.
run() {
    last_cmd=$(printf '%q ' "$@")
    "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
}

# runq OUTFILE CMD...: like run, stdout to OUTFILE; returns the status.
runq() {
    local out=$1
    shift
    last_cmd=$(printf '%q ' "$@")
    "$@" >"$out" 2>"$T/stderr"
    rc=$?
    return $rc
}

# expect_error NAME WANT_RC NEEDLE... : the last command failed with WANT_RC and one error line
# mentioning every needle. (Some scripts define their own, with other checks.)
expect_error() {
    local name=$1 want=$2
    shift 2
    local msg problems=""
    msg=$(grep '^seqlm: error: ' "$T/stderr")
    [ "$rc" -eq "$want" ] || problems="exit status $rc, expected $want"
    [ "$(grep -c '^seqlm: error: ' "$T/stderr")" -eq 1 ] || problems="$problems; not one error line"
    for needle in "$@"; do
        case $msg in *"$needle"*) ;; *) problems="$problems; no '$needle' in: $msg" ;; esac
    done
    if [ -z "$problems" ]; then pass "$name"; else fail "$name" "$problems"; fi
}

# json_field FILE KEY: one field of the JSON object in FILE (empty if missing or not JSON).
json_field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" \
        2>/dev/null
}
