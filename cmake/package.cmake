# The installable package: what `cmake --install` puts under a prefix and `cpack -G DEB`
# packs. Included from the top-level CMakeLists.txt when HANA_PACKAGE is ON.
#
#   include/hana/*.h, knobs.def          the public API, nothing else of the tree
#   lib/libhana-net.so.X / .a            hana::net / hana::net_static: Node API + display layer
#   lib/libhana-net-metrics.so.X         hana::metrics: the Prometheus endpoint (prometheus-cpp)
#   lib/cmake/hana/                      find_package(hana CONFIG)
#   lib/pkgconfig/hana-net.pc            pkg-config hana-net (and hana-net-metrics)
#   bin/hana-net                         the CLI
#   lib/systemd/system/hana-net@.service a unit template for `hana-net node`
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Before 1.0 every minor release may break the ABI, so the soname carries it: libhana-net.so.0.1.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(HANA_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(HANA_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()

# One library from the four internal ones' objects (compiled once, position independent):
# users link one name and see only include/hana/.
set(HANA_CORE_OBJECTS $<TARGET_OBJECTS:hana_protocol> $<TARGET_OBJECTS:hana_topology>
                      $<TARGET_OBJECTS:hana_engine> $<TARGET_OBJECTS:hana_display>)
add_library(hana_net_shared SHARED ${HANA_CORE_OBJECTS})
add_library(hana_net_static STATIC ${HANA_CORE_OBJECTS})
set_target_properties(hana_net_shared PROPERTIES OUTPUT_NAME hana-net EXPORT_NAME net
                      VERSION ${PROJECT_VERSION} SOVERSION ${HANA_SOVERSION})
set_target_properties(hana_net_static PROPERTIES OUTPUT_NAME hana-net EXPORT_NAME net_static)
foreach(t hana_net_shared hana_net_static)
  target_include_directories(${t} INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                            $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${t} INTERFACE cxx_std_20)
endforeach()
# A missing dependency fails the build here, not in a user's link.
target_link_options(hana_net_shared PRIVATE -Wl,--no-undefined -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/hana-net.map)
set_target_properties(hana_net_shared PROPERTIES LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/hana-net.map)
target_link_libraries(hana_net_shared PRIVATE PkgConfig::URING PkgConfig::XXHASH PkgConfig::SODIUM Threads::Threads)
# An archive links nothing itself: its users link its dependencies (the system libraries by
# name once installed, so the package needs no pkg-config module of its own to be found).
target_link_libraries(hana_net_static INTERFACE Threads::Threads
                      "$<BUILD_INTERFACE:PkgConfig::URING;PkgConfig::XXHASH;PkgConfig::SODIUM>"
                      "$<INSTALL_INTERFACE:uring;xxhash;sodium>")

add_library(hana_metrics_shared SHARED $<TARGET_OBJECTS:hana_metrics>)
set_target_properties(hana_metrics_shared PROPERTIES OUTPUT_NAME hana-net-metrics EXPORT_NAME metrics
                      VERSION ${PROJECT_VERSION} SOVERSION ${HANA_SOVERSION})
target_link_options(hana_metrics_shared PRIVATE -Wl,--no-undefined)
target_link_libraries(hana_metrics_shared PUBLIC hana_net_shared PRIVATE prometheus-cpp::pull)

# ---- install ---------------------------------------------------------------------------
set(HANA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hana)
install(DIRECTORY include/hana DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h" PATTERN "*.def")
install(TARGETS hana_net_shared EXPORT hanaTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev)
install(TARGETS hana_metrics_shared EXPORT hanaTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT metrics NAMELINK_COMPONENT dev)
install(TARGETS hana_net_static EXPORT hanaTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT hanaTargets NAMESPACE hana:: DESTINATION ${HANA_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(cmake/hanaConfig.cmake.in ${PROJECT_BINARY_DIR}/hanaConfig.cmake
                              INSTALL_DESTINATION ${HANA_CMAKE_DIR})
# 0.x: a newer minor is not compatible (see HANA_SOVERSION); from 1.0 on, the same major is.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(HANA_COMPATIBILITY SameMinorVersion)
else()
  set(HANA_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/hanaConfigVersion.cmake COMPATIBILITY ${HANA_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/hanaConfig.cmake ${PROJECT_BINARY_DIR}/hanaConfigVersion.cmake
        DESTINATION ${HANA_CMAKE_DIR} COMPONENT dev)
# The .pc files find the prefix from where they lie (${pcfiledir}), so the same files work
# for `cmake --install --prefix ANY` and for the Debian packages.
file(RELATIVE_PATH HANA_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" HANA_PC_TO_PREFIX "${HANA_PC_TO_PREFIX}")
foreach(pc hana-net hana-net-metrics)
  configure_file(cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()
if(TARGET hana-net)
  install(TARGETS hana-net RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
  # systemd unit template (Type=notify; hana-net speaks the sd_notify protocol itself).
  install(FILES packaging/hana-net@.service DESTINATION lib/systemd/system COMPONENT cli)
endif()

# ---- cpack -G DEB: libhana-net0.1, libhana-net-metrics0.1, libhana-net-dev, hana-net ----
set(CPACK_PACKAGE_NAME hana-net)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Low-latency peer-to-peer reliable UDP mesh for hana display nodes")
set(CPACK_PACKAGE_CONTACT "hana-net maintainers <hana-net@invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL runtime metrics dev cli)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# dpkg-shlibdeps names the system libraries each binary needs (liburing2, libxxhash0, libsodium23, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(HANA_DEB_RUNTIME libhana-net${HANA_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${HANA_DEB_RUNTIME})
set(CPACK_DEBIAN_METRICS_PACKAGE_NAME libhana-net-metrics${HANA_SOVERSION})
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libhana-net-dev)
set(CPACK_DEBIAN_CLI_PACKAGE_NAME hana-net)
# libhana-net-metrics links libhana-net, which dpkg-shlibdeps cannot see outside the system
# paths: its own dependency on it is written here, the rest (prometheus-cpp) still found.
set(CPACK_DEBIAN_METRICS_PACKAGE_DEPENDS "${HANA_DEB_RUNTIME} (= ${PROJECT_VERSION})")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "${HANA_DEB_RUNTIME} (= ${PROJECT_VERSION}), libhana-net-metrics${HANA_SOVERSION} (= ${PROJECT_VERSION}), liburing-dev, libxxhash-dev, libsodium-dev")
include(CPack)
