# Warnings and sanitizers are INTERFACE targets so every library and test opts in the same way.
add_library(ocspkit_warnings INTERFACE)
target_compile_options(ocspkit_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                       -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                       -Wimplicit-fallthrough)
# GCC 12 reports -Wmismatched-new-delete on Asio coroutines whose frames Asio allocates and frees with
# its own matching operator new/delete (a false positive that depends on inlining); GCC 13 does not.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(ocspkit_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-mismatched-new-delete>)
endif()
if(OCSPKIT_WARNINGS_AS_ERRORS)
  target_compile_options(ocspkit_warnings INTERFACE -Werror)
endif()

add_library(ocspkit_sanitizers INTERFACE)
# UBSan halts at the first finding (-fno-sanitize-recover): a report that lets the test pass is missed.
if(OCSPKIT_SANITIZE)
  target_compile_options(ocspkit_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                         -fno-sanitize-recover=undefined)
  target_link_options(ocspkit_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
# The clang-14 sanitizer build (preset "fuzz", scripts/run-sanitizers.sh): every project library and
# test is compiled with libFuzzer's coverage instrumentation and ASan + UBSan, so one build serves both
# the fuzz targets (which see the coverage of all the code they call; only the fuzz_* executables link
# the libFuzzer driver, tests/fuzz/CMakeLists.txt) and the whole test suite under the sanitizers.
# UBSan's `function` check is left out: clang-14 cannot emit its prologue data for Asio's C++20
# coroutines ("error: Cannot represent a difference across sections"); every other UBSan check stays.
option(OCSPKIT_LIBFUZZER "Instrument everything for libFuzzer, ASan and UBSan; build the fuzz_* targets (clang only)" OFF)
if(OCSPKIT_LIBFUZZER)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "OCSPKIT_LIBFUZZER needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(OCSPKIT_SANITIZE)
    message(FATAL_ERROR "OCSPKIT_LIBFUZZER already includes ASan + UBSan: leave OCSPKIT_SANITIZE off")
  endif()
  target_compile_options(ocspkit_sanitizers INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize=function -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(ocspkit_sanitizers INTERFACE -fsanitize=address,undefined)
  # Our own assert()s stay on (the build has no NDEBUG), Boost's are off, as in the release build: Beast
  # 1.81's chunk parser asserts `n >= 5` when a final chunk's CRLF arrives one byte at a time, a case it
  # then handles correctly (found by fuzz_http_request, whose byte-by-byte reading is legitimate).
  target_compile_definitions(ocspkit_sanitizers INTERFACE BOOST_DISABLE_ASSERTS)
endif()

# Every project target links this one instead of repeating the two above.
add_library(ocspkit_options INTERFACE)
target_link_libraries(ocspkit_options INTERFACE ocspkit_warnings ocspkit_sanitizers)

# sd_notify for systemd's Type=notify (READY, RELOADING, STOPPING). Required: both units are
# Type=notify, and a daemon built without it would never tell systemd it started.
find_package(PkgConfig REQUIRED)
pkg_check_modules(OCSPKIT_LIBSYSTEMD REQUIRED IMPORTED_TARGET GLOBAL libsystemd)
function(ocspkit_link_systemd target)
  target_compile_definitions(${target} PRIVATE OCSPKIT_HAVE_SYSTEMD=1)
  target_link_libraries(${target} PRIVATE PkgConfig::OCSPKIT_LIBSYSTEMD)
endfunction()
