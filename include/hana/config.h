// hana::Config: every knob, generated from hana/knobs.def (docs/knobs.md lists them).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "hana/result.h"

namespace hana {

enum class KnobType : std::uint8_t { U32, U64, I64, F64, Bool };

struct KnobInfo {
  const char* name;
  KnobType type;
  double default_value;
  double min;
  double max;
  bool runtime;  // may change on a running node
  const char* doc;
};

// A cross-knob rule of knobs.def: the value of `lower` must not exceed that of `upper`.
struct KnobRule {
  const char* lower;
  const char* upper;
  const char* why;
};

struct Config {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) type name = def;
#include "hana/knobs.def"
#undef HANA_KNOB

  // Checks every knob against its range, then the cross-knob rules of knobs.def
  // (HANA_KNOB_RULE). The error names the knob and its range, or the rule.
  Result<void> validate() const;
  // Parses `value` for knob `name` and range-checks it; leaves *this unchanged on error.
  // Cross-knob rules are validate()'s: a file may raise pto_cap_us after pto_floor_us.
  Result<void> set(std::string_view name, std::string_view value);
  // Textual value of a knob (empty Result error if the name is unknown).
  Result<std::string> get(std::string_view name) const;

  static std::span<const KnobInfo> knobs();
  static const KnobInfo* find(std::string_view name);
  static std::span<const KnobRule> rules();

  // The datagram size every path is assumed to carry: base_datagram_bytes, never above
  // the max_datagram_bytes cap (a cap set low keeps every datagram within it).
  std::uint32_t base_datagram() const { return base_datagram_bytes < max_datagram_bytes ? base_datagram_bytes : max_datagram_bytes; }
};

// "u32", "u64", "i64", "f64" or "bool" (docs/knobs.md, `hana-net knobs`).
std::string_view to_string(KnobType type);
// The allowed values: "256 .. 65507", "0 .. 2^64-1", "true/false".
std::string knob_range(const KnobInfo& knob);
// What a knob takes, in user terms: "an integer in 256 .. 65507", "a number in 0 .. 100",
// "true or false (also 1/0, on/off)".
std::string knob_expects(const KnobInfo& knob);
// One line for an operator when setting `knob` to `value` failed with `error` (errors are
// static text, so the value is quoted here), e.g.
//   fault_loss_pct: 'abc' rejected: value does not parse; expected a number in 0 .. 100
std::string describe_knob_error(std::string_view knob, std::string_view value, const Error& error);
// Applies `name=value` assignments in order (a CLI's repeatable `--knob NAME=VALUE`), then
// the cross-knob rules (validate()). Returns "" on success, else one line for an operator
// naming the offending assignment; `config` may then hold the assignments before it.
std::string apply_knob_assignments(Config& config, std::span<const std::string> assignments);

}  // namespace hana
