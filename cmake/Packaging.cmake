# Install layout and the Debian package.
#
#   cmake --install build --prefix /usr            # as root: a system install
#   DESTDIR=/tmp/stage cmake --install build --prefix /usr   # staged
# lays out
#   <prefix>/bin/promfeed, <prefix>/bin/promfeedctl
#   /etc/promfeed/promfeed.yml              (the example config; a conffile in the .deb)
#   /etc/default/promfeed                   (daemon flags, when deploy/systemd has it)
#   /lib/systemd/system/promfeed.service    (when deploy/systemd has it)
#   <prefix>/share/doc/promfeed/            (README, example config, Kubernetes manifests)
# Configuration and the unit go to absolute paths (as Debian installs them), so a staged
# install needs DESTDIR. `cpack -G DEB` in the build dir builds promfeed_<version>_<arch>.deb.
include(GNUInstallDirs)

set(PROMFEED_INSTALL_SYSCONFDIR "/etc" CACHE PATH "Where promfeed/promfeed.yml and default/promfeed go")
set(PROMFEED_INSTALL_UNITDIR "/lib/systemd/system" CACHE PATH "Where the systemd unit goes")

set(_pf_systemd ${PROJECT_SOURCE_DIR}/deploy/systemd)
install(FILES config/promfeed.example.yml
        DESTINATION ${PROMFEED_INSTALL_SYSCONFDIR}/promfeed RENAME promfeed.yml)
set(_pf_conffiles "${PROMFEED_INSTALL_SYSCONFDIR}/promfeed/promfeed.yml\n")
# The unit and its environment file are written with the daemon's systemd support.
if(EXISTS ${_pf_systemd}/promfeed.default)
  install(FILES ${_pf_systemd}/promfeed.default
          DESTINATION ${PROMFEED_INSTALL_SYSCONFDIR}/default RENAME promfeed)
  string(APPEND _pf_conffiles "${PROMFEED_INSTALL_SYSCONFDIR}/default/promfeed\n")
endif()
if(EXISTS ${_pf_systemd}/promfeed.service)
  install(FILES ${_pf_systemd}/promfeed.service DESTINATION ${PROMFEED_INSTALL_UNITDIR})
endif()
install(FILES README.md config/promfeed.example.yml DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY deploy/k8s DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- CPack: one .deb ------------------------------------------------------------------------
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "promfeed")
set(CPACK_PACKAGE_VENDOR "promfeed")
set(CPACK_PACKAGE_CONTACT "promfeed maintainers <promfeed@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Polls Prometheus, keeps a ring buffer per series and serves time-aligned sliding\n windows over gRPC for model training. Includes promfeedctl, its command-line client.")
# Library dependencies come from dpkg-shlibdeps (package dpkg-dev); adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "prometheus")

# conffiles plus maintainer scripts (user creation, unit enable, stop on removal).
set(_pf_control ${CMAKE_CURRENT_BINARY_DIR}/debian-control)
file(MAKE_DIRECTORY ${_pf_control})
file(WRITE ${_pf_control}/conffiles "${_pf_conffiles}")
foreach(_s postinst prerm postrm)
  configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/${_s} ${_pf_control}/${_s} COPYONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_pf_control}/conffiles ${_pf_control}/postinst ${_pf_control}/prerm ${_pf_control}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
