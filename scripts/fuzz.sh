#!/bin/sh
# Runs every cargo-fuzz target in fuzz/ for a fixed time, one after the
# other, and fails if any finds a crash (a panic, a broken invariant, a
# sanitizer report). What each target checks: docs/reliability.md.
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   the targets to run (default all of them)
# New inputs libFuzzer finds go to fuzz/work/<target> (not in git); the
# seeds in fuzz/corpus/<target> are read, never written. A crash leaves its
# input in fuzz/artifacts/<target>/: fix the code, then add the input as a
# unit test in crates/pyrite-text.
set -eu
cd "$(dirname "$0")/../fuzz"
export PYO3_PYTHON="${PYO3_PYTHON:-/usr/bin/python3}"
# cargo fuzz passes -Z flags to rustc: nightly, or stable told to accept them.
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-validate convert cgi_key alias directive psp proxy}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== fuzz: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
echo "== fuzz: building the targets"
cargo fuzz build

status=0
summary=""
for t in $targets; do
    mkdir -p "work/$t" "corpus/$t"
    # CPython keeps allocations for the whole life of the process, which
    # LeakSanitizer would report at exit: no leak checks where Python runs.
    case "$t" in
        convert | directive | psp) leaks=0 ;;
        *) leaks=1 ;;
    esac
    echo "== fuzz: $t for ${seconds}s"
    log="work/$t.log"
    if ASAN_OPTIONS="detect_leaks=$leaks" cargo fuzz run "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -detect_leaks="$leaks" -print_final_stats=1 >"$log" 2>&1; then
        result="ok"
    else
        result="FAILED (log: fuzz/$log, input: fuzz/artifacts/$t/)"
        status=1
        tail -n 40 "$log"
    fi
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -n 1)
    line="$t: ${runs:-no run completed}, $result"
    echo "   $line"
    summary="$summary
   $line"
done
echo "== fuzz: summary$summary"
exit "$status"
