# The Debian package: `cmake --build build --target package` (or `cpack` in the build folder) writes
# build/ocspkit_<version>_<arch>.deb. deploy/debian/README describes what it installs and what its
# maintainer scripts do; tests/integration/package/ installs it, runs both daemons and purges it.
set(OCSPKIT_PACKAGE_MAINTAINER "ocspkit maintainers <ocspkit@example.org>" CACHE STRING
    "The Maintainer: field of the .deb (name <email>)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ocspkit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${OCSPKIT_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "OCSP responder, stapling daemon and stapling library for private PKIs")
# Lines of at most 80 characters (Debian policy 5.6.13); CPack indents them.
set(CPACK_PACKAGE_DESCRIPTION
    "ocsp-responder answers certificate status requests (RFC 6960, RFC 5019 profile)
from a SQLite index kept with ocspctl. ocsp-stapler prefetches, validates and
caches OCSP responses for TLS servers: files for nginx and HAProxy, or a
shared-memory cache that servers read with libocspstaple.")

# Files under /usr, except the units in /lib/systemd/system (cmake/install.cmake). Absolute install
# paths only land in the package, not on the build machine, when CPack installs through DESTDIR.
# (With CPACK_SET_DESTDIR, CPack installs with CMAKE_INSTALL_PREFIX=CPACK_INSTALL_PREFIX, which defaults to
# the build's prefix, /usr/local.)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from dpkg-shlibdeps; adduser for the postinst (deb-systemd-invoke comes with
# init-system-helpers, which is Essential).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# Keys in a PKCS#11 token (signer_key = "pkcs11:...") are used through OpenSSL's pkcs11 engine.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libengine-pkcs11-openssl")
# A shlibs file for libocspstaple.so.0, so packages built against it depend on ocspkit.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm
    ${PROJECT_SOURCE_DIR}/deploy/debian/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
