// hana::Config: every knob, generated from hana/knobs.def (docs/knobs.md lists them).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hana/result.h"

namespace hana {

enum class KnobType : std::uint8_t { U32, U64, F64, Bool };

struct KnobInfo {
  const char* name;
  KnobType type;
  double default_value;
  double min;
  double max;
  bool runtime;  // may change on a running node
  const char* doc;
};

struct Config {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) type name = def;
#include "hana/knobs.def"
#undef HANA_KNOB

  // Checks every knob against its range. The error names the knob and its range.
  Result<void> validate() const;
  // Parses `value` for knob `name` and range-checks it; leaves *this unchanged on error.
  Result<void> set(std::string_view name, std::string_view value);
  // Textual value of a knob (empty Result error if the name is unknown).
  Result<std::string> get(std::string_view name) const;

  static std::span<const KnobInfo> knobs();
  static const KnobInfo* find(std::string_view name);
};

}  // namespace hana
