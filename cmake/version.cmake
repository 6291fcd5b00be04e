# common/version.hpp: the project version plus `git describe` when the source is a git checkout.
find_package(Git QUIET)
set(OCSPKIT_GIT_DESCRIBE "")
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" describe --always --dirty --tags
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE OCSPKIT_GIT_DESCRIBE
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
endif()
if(OCSPKIT_GIT_DESCRIBE)
  set(OCSPKIT_VERSION_TEXT "${PROJECT_VERSION} (${OCSPKIT_GIT_DESCRIBE})")
else()
  set(OCSPKIT_VERSION_TEXT "${PROJECT_VERSION}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/common/version.hpp.in" "${PROJECT_BINARY_DIR}/generated/common/version.hpp"
               @ONLY)
