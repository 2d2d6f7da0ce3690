// Plain-text tables for the CLI: every column as wide as its widest cell (long scoped IPv6
// addresses, 20-digit incarnations), two spaces between columns.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace hana::cli {

class TextTable {
 public:
  // A header per column; a column whose header starts with '>' is right-aligned (numbers).
  explicit TextTable(std::vector<std::string> headers);
  void add_row(std::vector<std::string> cells);
  void print(std::FILE* out = stdout) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace hana::cli
