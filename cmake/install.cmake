# What `cmake --install` puts where besides the programs and libocspstaple (their install() rules sit
# next to the targets). deploy/debian/README lists the resulting layout of the .deb.
#
# Everything is relative to CMAKE_INSTALL_PREFIX except the systemd units: Debian 12 keeps units in
# /lib/systemd/system, so with prefix /usr (the .deb) they go there; with any other prefix they go to
# <prefix>/lib/systemd/system (systemd also loads /usr/local/lib/systemd/system).
include(GNUInstallDirs)

set(OCSPKIT_SYSTEMD_UNIT_DIR "" CACHE PATH
    "Where the systemd units go (empty: /lib/systemd/system for prefix /usr, else <prefix>/lib/systemd/system)")

# Docs and examples as Debian ships them: /usr/share/doc/ocspkit, .../examples.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md"
        PATTERN "man" EXCLUDE)
# install(DIRECTORY) reads the folder at install time, so examples added later (deploy/prometheus/)
# are packaged without a re-configure.
install(DIRECTORY deploy/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples
        PATTERN ".*" EXCLUDE
        PATTERN "debian" EXCLUDE
        PATTERN "systemd" EXCLUDE
        PATTERN "examples" EXCLUDE)
install(FILES deploy/examples/staple_server.c DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# Service users and folders (the postinst makes the same at install time; see those files).
install(FILES deploy/debian/ocspkit.tmpfiles DESTINATION lib/tmpfiles.d RENAME ocspkit.conf)
install(FILES deploy/debian/ocspkit.sysusers DESTINATION lib/sysusers.d RENAME ocspkit.conf)

# The configure-time values the install-time code below needs.
install(CODE "
set(ocspkit_source_dir \"${PROJECT_SOURCE_DIR}\")
set(ocspkit_stage_dir \"${PROJECT_BINARY_DIR}/install-stage\")
set(ocspkit_unit_dir \"${OCSPKIT_SYSTEMD_UNIT_DIR}\")
set(ocspkit_bindir \"${CMAKE_INSTALL_BINDIR}\")
set(ocspkit_docdir \"${CMAKE_INSTALL_DOCDIR}\")
set(ocspkit_mandir \"${CMAKE_INSTALL_MANDIR}\")")

# systemd units. deploy/systemd/ holds them as the .deb installs them (ExecStart=/usr/bin/...,
# Documentation=file:///usr/share/doc/ocspkit/...), so they can be checked and copied as they are; for
# another prefix those paths are rewritten here, at install time, because CPack installs with prefix
# /usr from a tree configured for /usr/local.
install(CODE [[
string(REGEX REPLACE "(.)/+$" "\\1" ocspkit_prefix "${CMAKE_INSTALL_PREFIX}")
if(ocspkit_unit_dir)
  set(ocspkit_units_to "${ocspkit_unit_dir}")
elseif(ocspkit_prefix STREQUAL "/usr")
  set(ocspkit_units_to "/lib/systemd/system")
else()
  set(ocspkit_units_to "${ocspkit_prefix}/lib/systemd/system")
endif()
file(GLOB ocspkit_units "${ocspkit_source_dir}/deploy/systemd/*.service")
foreach(unit IN LISTS ocspkit_units)
  file(READ "${unit}" text)
  string(REPLACE "=/usr/bin/" "=${ocspkit_prefix}/${ocspkit_bindir}/" text "${text}")
  string(REPLACE "file:///usr/share/doc/ocspkit/" "file://${ocspkit_prefix}/${ocspkit_docdir}/" text "${text}")
  get_filename_component(name "${unit}" NAME)
  file(WRITE "${ocspkit_stage_dir}/systemd/${name}" "${text}")
  file(INSTALL DESTINATION "${ocspkit_units_to}" TYPE FILE FILES "${ocspkit_stage_dir}/systemd/${name}")
endforeach()
]])

# Man pages, compressed as Debian wants them (gzip -9n: best compression, no name or time stamp, so
# the package is reproducible). Globbed at install time like the examples.
install(CODE [[
find_program(ocspkit_gzip gzip REQUIRED)
file(GLOB ocspkit_man_pages "${ocspkit_source_dir}/docs/man/*.[1-8]")
foreach(page IN LISTS ocspkit_man_pages)
  get_filename_component(name "${page}" NAME)
  string(REGEX MATCH "[1-8]$" section "${name}")
  file(MAKE_DIRECTORY "${ocspkit_stage_dir}/man")
  execute_process(COMMAND "${ocspkit_gzip}" -9nc "${page}" OUTPUT_FILE "${ocspkit_stage_dir}/man/${name}.gz"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${page} failed (${rc})")
  endif()
  file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/${ocspkit_mandir}/man${section}" TYPE FILE
       FILES "${ocspkit_stage_dir}/man/${name}.gz")
endforeach()
]])
