#!/usr/bin/env bash
# The sanitizer job (CI runs it after scripts/run-tests.sh; see .ci/run). One clang-14 build (preset
# "fuzz": every library, test and fuzz target compiled with ASan + UBSan and libFuzzer's coverage
# instrumentation, cmake/project_options.cmake) serves all three stages:
#   1. libFuzzer: every fuzz target (tests/fuzz) run for OCSPKIT_FUZZ_SECONDS (default 60) from a copy of
#      its committed corpus, two at a time;
#   2. the whole ctest suite under ASan + UBSan, except the tests labelled "package" (they build a .deb
#      of this build and install it as the system's package: a sanitizer build is not a package to
#      install, and its runtime does not run under the units' SystemCallFilter=). The suite includes
#      stapler_shm_tsan, the shared-memory cache's reader/writer stress test, which carries its own
#      -fsanitize=thread. It runs last, so the job ends with ctest's summary.
# Any finding fails the job: UBSan does not recover (-fno-sanitize-recover), ASan and TSan halt on error,
# libFuzzer stops at its first crash, leak or timeout and leaves the input under the log folder.
#
# Build folder: build-fuzz-clang (or under $OCSPKIT_SANITIZER_BUILD_ROOT).
# ccache is used when it is installed; nothing depends on it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
cd "$root"

build_root="${OCSPKIT_SANITIZER_BUILD_ROOT:-$root}"
fuzz_seconds="${OCSPKIT_FUZZ_SECONDS:-60}"
jobs="$(nproc)"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
timings=()
stage_started=0
stage() { echo; echo "== sanitizers: $1"; stage_started=$SECONDS; }
stage_done() { timings+=("$1: $((SECONDS - stage_started)) s"); echo "== sanitizers: $1 took $((SECONDS - stage_started)) s"; }

clang_dir="$build_root/build-fuzz-clang"
stage "configure and build everything with clang-14, ASan + UBSan and coverage ($clang_dir)"
cmake --preset fuzz -B "$clang_dir" "${launcher[@]}" >/dev/null
cmake --build "$clang_dir" -j "$jobs"
# Every tests/fuzz/<name>_fuzzer.cpp is a target (tests/fuzz/CMakeLists.txt lists the same names).
mapfile -t fuzz_targets < <(cd tests/fuzz && ls -- *_fuzzer.cpp | sed 's/_fuzzer\.cpp$//')
stage_done "clang-14 build"

stage "libFuzzer: ${#fuzz_targets[@]} targets, ${fuzz_seconds} s each, $jobs at a time"
fuzz_work="$clang_dir/fuzz-runs"
rm -rf "$fuzz_work"
mkdir -p "$fuzz_work"
run_fuzzer() {  # target
  local t="$1" dir="$fuzz_work/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r "$root/tests/fuzz/corpus/$t/." "$dir/corpus/"
  # -rss_limit_mb and -timeout: a run that grows without bound or hangs is a finding too.
  if "$clang_dir/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" -timeout=25 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1; then
    echo "fuzz_$t: ok, corpus $(ls "$root/tests/fuzz/corpus/$t" | wc -l) -> $(ls "$dir/corpus" | wc -l):" \
      "$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1)"
  else
    echo "fuzz_$t: FAILED (log $dir/log, input in $dir/artifacts/):"
    tail -40 "$dir/log"
    return 1
  fi
}
export -f run_fuzzer
export root clang_dir fuzz_work fuzz_seconds
failed=0
printf '%s\n' "${fuzz_targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_fuzzer "$@"' _ {} || failed=1
stage_done "libFuzzer runs"
if ((failed)); then echo "== sanitizers: a fuzz target found something (above)"; exit 1; fi

echo
echo "== sanitizers: stage times so far: ${timings[*]/%/;}"
echo "== sanitizers: the whole suite under ASan + UBSan (label 'package' excluded)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$clang_dir" -j "$jobs" --timeout 600 --output-on-failure -LE package
