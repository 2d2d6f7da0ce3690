// Subcommands of hana-sim. Each registers its options on `app` and returns the
// function to run once the command line has been parsed (its result is the exit code:
// 0 ok, 1 a checked property failed, 2 usage or setup error).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace hana::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitPropertyFailed = 1;
inline constexpr int kExitUsage = 2;

std::function<int()> register_conn_command(CLI::App& app);  // conn_command.cpp
std::function<int()> register_mesh_command(CLI::App& app);  // mesh_scenario.cpp (topology helper)

}  // namespace hana::tools
