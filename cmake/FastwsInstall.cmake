include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# fastws::asio (header-only) only when Boost was found; the package config then looks for Boost
# too, and the component is found when Boost is.
set(FASTWS_HAVE_ASIO OFF)
set(fastws_installed_targets fastws fastws_redis)
set(fastws_installed_headers include/fastws adapters/redis/include/fastws)
if(TARGET fastws_asio)
  set(FASTWS_HAVE_ASIO ON)
  list(APPEND fastws_installed_targets fastws_asio)
  list(APPEND fastws_installed_headers adapters/asio/include/fastws)
endif()
install(TARGETS ${fastws_installed_targets} EXPORT fastwsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${fastws_installed_headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT fastwsTargets NAMESPACE fastws:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fastws)

configure_package_config_file(cmake/fastwsConfig.cmake.in
  ${PROJECT_BINARY_DIR}/fastwsConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fastws)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fastwsConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fastwsConfig.cmake ${PROJECT_BINARY_DIR}/fastwsConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fastws)

# The .pc file finds the prefix relative to itself, so `cmake --install --prefix DIR` works too.
file(RELATIVE_PATH FASTWS_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
configure_file(cmake/fastws.pc.in ${PROJECT_BINARY_DIR}/fastws.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/fastws.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
