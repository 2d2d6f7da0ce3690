// Pre-shared keys on the command line: `hana-net keygen` and `--psk-file PATH` (node, echo,
// ping). A key file holds the key as 64 hex characters (surrounding whitespace ignored),
// as keygen prints it. docs/security.md says how keys are made, handed out and rotated.
#include <sodium.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"

namespace hana::cli {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

PresharedKey read_psk_file_or_throw(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError{"--psk-file: cannot read '" + path + "'"};
  std::stringstream text;
  text << in.rdbuf();
  std::string hex = text.str();
  const auto b = hex.find_first_not_of(" \t\r\n");
  const auto e = hex.find_last_not_of(" \t\r\n");
  hex = b == std::string::npos ? std::string() : hex.substr(b, e - b + 1);
  const std::string expected = "; expected 64 hex characters (hana-net keygen > " + path + ")";
  if (hex.size() != 2 * kPresharedKeyBytes)
    throw UsageError{"--psk-file: '" + path + "' holds " + std::to_string(hex.size()) + " characters" + expected};
  PresharedKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) {
    const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw UsageError{"--psk-file: '" + path + "' is not hexadecimal" + expected};
    key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  sodium_memzero(hex.data(), hex.size());
  return key;
}

}  // namespace

void add_psk_option(CLI::App* cmd, std::vector<std::string>& paths) {
  cmd->add_option("--psk-file", paths,
                  "Pre-shared key file (hana-net keygen): seal every datagram, hear only peers with the key. "
                  "Give it twice to rotate: the first key sends, both are accepted");
}

std::vector<PresharedKey> read_psk_files_or_throw(const std::vector<std::string>& paths) {
  if (paths.size() > 2) throw UsageError{"--psk-file: at most two keys (the first sends, both are accepted)"};
  std::vector<PresharedKey> keys;
  for (const auto& p : paths) keys.push_back(read_psk_file_or_throw(p));
  if (keys.size() == 2 && keys[0] == keys[1]) throw UsageError{"--psk-file: the two key files hold the same key"};
  return keys;
}

void add_keygen_command(CLI::App& app, Outcome& outcome) {
  auto* cmd = app.add_subcommand("keygen", "Print a new pre-shared key (64 hex characters) for --psk-file");
  cmd->callback([&outcome] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "hana-net: libsodium failed to initialise\n");
      outcome.exit_code = kExitFailure;
      return;
    }
    PresharedKey key{};
    randombytes_buf(key.data(), key.size());
    char hex[2 * kPresharedKeyBytes + 1];
    sodium_bin2hex(hex, sizeof hex, key.data(), key.size());
    std::printf("%s\n", hex);
    sodium_memzero(key.data(), key.size());
    sodium_memzero(hex, sizeof hex);
  });
}

}  // namespace hana::cli
