# clilib.sh - the harness shared by the tests/cli_*.sh scripts; sourced, never run by itself
# (its name keeps it out of tests/CMakeLists.txt's cli_*.sh glob).
#
# Sourcing it (with the script's own arguments, /path/to/seqlm [shared-data-dir]) sets SEQLM
# (made absolute), DATA (the shared data directory, maybe empty) and GOLDEN (tests/golden),
# and exits 77 (skip) when SEQLM is not an executable. Then the script calls
#   cli_require CMD...   skip (exit 77) unless every CMD is installed
#   cli_tmpdir NAME      make a temporary directory $T, removed on exit, and cd into it
# and ends with `cli_finish`, which prints "N passed, M failed" and returns non-zero when
# anything failed. In between, the helpers below each print one PASS or FAIL line a check:
#   pass, fail, check, check_cmd          a check's outcome, from a status or a command
#   run, runq                             run a command, keeping stdout, stderr and status
#   expect_ok, expect_error               a command succeeds / fails by the error contract
#   json_field, st_meta, st_tensors       read a --json output, a safetensors header
#   valid_utf8                            a file is valid UTF-8
# Settings a script may make after sourcing: CLI_HIDE_WARNINGS (see fail) and
# CLI_ERROR_ALONE (see expect_error).

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

# check NAME STATUS [details...]: pass if the status is 0. Take a test's status into a variable
# first when NAME holds a command substitution: in `check "x $(cmd)" $?` the $? is cmd's.
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

# expect_ok NAME CMD...: runs CMD (as run does); passes when it exits with status 0.
expect_ok() {
    local name=$1
    shift
    run "$@"
    if [ "$rc" -eq 0 ]; then pass "$name"; else fail "$name" "expected success"; fi
}

# expect_error [--no-output OUT] NAME WANT_RC [NEEDLE...] [-- CMD...]: a command failed as the
# CLI's error contract says. With "-- CMD...", runs CMD first (as run does); without, looks at
# the last command run. Passes when
#   - its exit status is WANT_RC (1 for bad input, 2 for bad usage);
#   - its stderr has exactly one "seqlm: error: " line, and every NEEDLE is a substring of
#     that line (fixed strings, not patterns);
#   - with CLI_ERROR_ALONE set (non-empty), stderr holds nothing else but "seqlm: warning: "
#     lines (scripts whose failing commands print progress first leave it unset);
#   - with --no-output OUT, neither OUT nor a temporary OUT.tmp.* file is left behind.
# Every problem found is printed under the FAIL line.
expect_error() {
    local out=
    if [ "$1" = --no-output ]; then
        out=$2
        shift 2
    fi
    local name=$1 want=$2
    shift 2
    local needles=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        needles+=("$1")
        shift
    done
    if [ $# -gt 0 ]; then
        shift
        run "$@"
    fi
    local problems=() msg nerr nother needle f
    msg=$(grep '^seqlm: error: ' "$T/stderr")
    nerr=$(grep -c '^seqlm: error: ' "$T/stderr")
    [ "$rc" -eq "$want" ] || problems+=("exit status $rc, expected $want")
    [ "$nerr" -eq 1 ] || problems+=("$nerr 'seqlm: error:' lines on stderr, expected one")
    if [ -n "${CLI_ERROR_ALONE:-}" ]; then
        nother=$(grep -v -c -e '^seqlm: error: ' -e '^seqlm: warning: ' "$T/stderr")
        [ "$nother" -eq 0 ] ||
            problems+=("$nother stderr lines besides the error line and warnings, expected none")
    fi
    for needle in ${needles[@]+"${needles[@]}"}; do
        case $msg in
        *"$needle"*) ;;
        *) problems+=("the error line does not mention '$needle'") ;;
        esac
    done
    if [ -n "$out" ]; then
        [ ! -e "$out" ] || problems+=("output '$out' was left behind")
        for f in "$out".tmp.*; do
            [ ! -e "$f" ] || problems+=("temporary file '$f' was left behind")
        done
    fi
    if [ ${#problems[@]} -eq 0 ]; then pass "$name"; else fail "$name" "${problems[@]}"; fi
}

# json_field FILE KEY: one field of the JSON object in FILE (empty if missing or not JSON).
json_field() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" \
        2>/dev/null
}

# (the Python that reads the header of the safetensors file sys.argv[1] into h)
_cli_st_header='import json, struct, sys
with open(sys.argv[1], "rb") as f:
    h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))'

# st_meta FILE KEY: one "__metadata__" entry of the safetensors file FILE (empty if missing).
st_meta() {
    python3 -c "$_cli_st_header"'
print(h.get("__metadata__", {}).get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null
}

# st_tensors FILE: the names of the tensors in the safetensors file FILE, one a line.
st_tensors() {
    python3 -c "$_cli_st_header"'
print("\n".join(k for k in h if k != "__metadata__"))' "$1" 2>/dev/null
}

# valid_utf8 FILE: the file is valid UTF-8.
valid_utf8() {
    python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$1" 2>/dev/null
}
