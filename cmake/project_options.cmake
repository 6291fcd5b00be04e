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
# The libFuzzer build (preset "fuzz", clang only): every project library is compiled with libFuzzer's
# coverage instrumentation and ASan + UBSan, so a fuzz target sees the coverage of all the code it calls;
# only the fuzz_* executables link the libFuzzer driver (tests/fuzz/CMakeLists.txt).
option(OCSPKIT_LIBFUZZER "Instrument everything for libFuzzer and build the fuzz_* targets (clang only)" OFF)
if(OCSPKIT_LIBFUZZER)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "OCSPKIT_LIBFUZZER needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(OCSPKIT_SANITIZE)
    message(FATAL_ERROR "OCSPKIT_LIBFUZZER already includes ASan + UBSan: leave OCSPKIT_SANITIZE off")
  endif()
  target_compile_options(ocspkit_sanitizers INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(ocspkit_sanitizers INTERFACE -fsanitize=address,undefined)
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
