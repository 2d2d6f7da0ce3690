// The one place the hana-net version is written. CMake reads these three lines for the
// project and package version (CMakeLists.txt), `hana-net --version` prints kVersion, and
// the library's SOVERSION follows from them (cmake/package.cmake).
#pragma once

#include <string_view>

#define HANA_VERSION_MAJOR 0
#define HANA_VERSION_MINOR 1
#define HANA_VERSION_PATCH 0

namespace hana {

#define HANA_VERSION_STR2(x) #x
#define HANA_VERSION_STR(x) HANA_VERSION_STR2(x)
inline constexpr std::string_view kVersion = HANA_VERSION_STR(HANA_VERSION_MAJOR) "." HANA_VERSION_STR(
    HANA_VERSION_MINOR) "." HANA_VERSION_STR(HANA_VERSION_PATCH);
#undef HANA_VERSION_STR
#undef HANA_VERSION_STR2

}  // namespace hana
