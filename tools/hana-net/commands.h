// hana-net subcommands. Each lives in its own file and registers itself on the CLI11
// app from main.cpp; to add one (node, peers, stats, get, set, ...) write
// <name>.cpp with an add_<name>_command() and add one line to main.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hana/node.h"

namespace hana::cli {

// Exit codes: 0 success, 1 runtime failure, 2 usage error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Thrown by a command's run function for a bad argument value: main prints it with
// the usage and exits 2.
struct UsageError {
  std::string message;
};

// The result of a subcommand's run, written by its callback.
struct Outcome {
  int exit_code = kExitOk;
};

void add_echo_command(CLI::App& app, Outcome& outcome);
void add_ping_command(CLI::App& app, Outcome& outcome);
void add_node_command(CLI::App& app, Outcome& outcome);      // node_command.cpp
void add_control_commands(CLI::App& app, Outcome& outcome);  // control_commands.cpp: peers, stats, links, get, set
void add_knobs_command(CLI::App& app, Outcome& outcome);     // knobs_command.cpp
void add_keygen_command(CLI::App& app, Outcome& outcome);    // psk.cpp

// ---- shared helpers (common.cpp) ----
Address parse_address_or_throw(const std::string& text, const char* what);
Lane parse_lane_or_throw(const std::string& text);
Delivery parse_delivery_or_throw(const std::string& text);
IoBackend parse_backend_or_throw(const std::string& text);
// --threading shared|dedicated|inline; `inline_flag` (--inline) wins when set.
Threading parse_threading_or_throw(const std::string& text, bool inline_flag);
// The repeatable `--knob NAME=VALUE` option (any knob of docs/knobs.md), and applying
// what it collected to `config` (a bad assignment throws UsageError).
void add_knob_option(CLI::App* cmd, std::vector<std::string>& knobs);
void apply_knobs_or_throw(Config& config, const std::vector<std::string>& knobs);
// The repeatable `--psk-file PATH` option, and the keys it names (psk.cpp): a missing,
// short or malformed file, or more than two, throws UsageError.
void add_psk_option(CLI::App* cmd, std::vector<std::string>& paths);
std::vector<PresharedKey> read_psk_files_or_throw(const std::vector<std::string>& paths);
// Creates and starts a node; prints the error and returns nullptr on failure. Options
// Node::create refuses (InvalidArgument) throw UsageError instead.
std::unique_ptr<Node> start_node(const Config& config, NodeOptions options);
// Stops the process cleanly on SIGINT/SIGTERM: install once, then poll.
void install_signal_handlers();
bool interrupted();

}  // namespace hana::cli
