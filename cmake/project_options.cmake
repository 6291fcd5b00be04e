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
if(OCSPKIT_SANITIZE)
  target_compile_options(ocspkit_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                         -fno-sanitize-recover=undefined)
  target_link_options(ocspkit_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# Every project target links this one instead of repeating the two above.
add_library(ocspkit_options INTERFACE)
target_link_libraries(ocspkit_options INTERFACE ocspkit_warnings ocspkit_sanitizers)
