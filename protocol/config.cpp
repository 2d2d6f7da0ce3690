// Validation and by-name access for hana::Config, generated from hana/knobs.def.
#include "hana/config.h"

#include <charconv>
#include <string>
#include <cstdio>
#include <cstdlib>

namespace hana {
namespace {

template <class T>
constexpr KnobType knob_type_of() {
  if constexpr (std::is_same_v<T, bool>) return KnobType::Bool;
  else if constexpr (std::is_same_v<T, double>) return KnobType::F64;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return KnobType::U32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return KnobType::I64;
  else return KnobType::U64;
}

constexpr KnobInfo kKnobs[] = {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) \
  {#name, knob_type_of<type>(), static_cast<double>(def), static_cast<double>(lo), static_cast<double>(hi), runtime, doc},
#include "hana/knobs.def"
#undef HANA_KNOB
};

template <class T>
bool parse_value(std::string_view text, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1" || text == "on") { out = true; return true; }
    if (text == "false" || text == "0" || text == "off") { out = false; return true; }
    return false;
  } else if constexpr (std::is_same_v<T, double>) {
    std::string s(text);
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size();
  } else {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && p == text.data() + text.size();
  }
}

template <class T>
std::string format_value(T v) {
  if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else if constexpr (std::is_same_v<T, double>) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  } else return std::to_string(v);
}

template <class T>
bool in_range(T v, double lo, double hi) {
  return static_cast<double>(v) >= lo && static_cast<double>(v) <= hi;
}

constexpr const char* kUnknownKnob = "unknown knob name";

std::string format_bound(const KnobInfo& k, double v) {
  char buf[64];
  if (k.type == KnobType::Bool) return v != 0 ? "true" : "false";
  if (k.type == KnobType::F64) {
    std::snprintf(buf, sizeof buf, "%g", v);
  } else if (v >= 1.8e19) {
    return "2^64-1";  // a double cannot hold UINT64_MAX exactly
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

}  // namespace

constexpr KnobRule kRules[] = {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc)
#define HANA_KNOB_RULE(lower, upper, why) {#lower, #upper, why},
#include "hana/knobs.def"
#undef HANA_KNOB_RULE
#undef HANA_KNOB
};

std::span<const KnobInfo> Config::knobs() { return kKnobs; }
std::span<const KnobRule> Config::rules() { return kRules; }

const KnobInfo* Config::find(std::string_view name) {
  for (const auto& k : kKnobs)
    if (name == k.name) return &k;
  return nullptr;
}

Result<void> Config::validate() const {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) \
  if (!in_range(name, static_cast<double>(lo), static_cast<double>(hi))) \
    return Error{Errc::InvalidArgument, "knob " #name " out of range [" #lo ", " #hi "]"};
#define HANA_KNOB_RULE(lower, upper, why) \
  if (!(lower <= upper)) return Error{Errc::InvalidArgument, #lower " must not exceed " #upper ": " why};
#include "hana/knobs.def"
#undef HANA_KNOB_RULE
#undef HANA_KNOB
  return {};
}

Result<void> Config::set(std::string_view knob, std::string_view value) {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc)                                     \
  if (knob == #name) {                                                                     \
    type parsed{};                                                                         \
    if (!parse_value(value, parsed))                                                       \
      return Error{Errc::InvalidArgument, "knob " #name ": value does not parse"};          \
    if (!in_range(parsed, static_cast<double>(lo), static_cast<double>(hi)))               \
      return Error{Errc::InvalidArgument, "knob " #name ": value out of range [" #lo ", " #hi "]"}; \
    name = parsed;                                                                         \
    return {};                                                                             \
  }
#include "hana/knobs.def"
#undef HANA_KNOB
  return Error{Errc::InvalidArgument, kUnknownKnob};
}

std::string_view to_string(KnobType type) {
  switch (type) {
    case KnobType::U32: return "u32";
    case KnobType::U64: return "u64";
    case KnobType::I64: return "i64";
    case KnobType::F64: return "f64";
    case KnobType::Bool: return "bool";
  }
  return "?";
}

std::string knob_range(const KnobInfo& k) {
  if (k.type == KnobType::Bool) return "true/false";
  return format_bound(k, k.min) + " .. " + format_bound(k, k.max);
}

std::string knob_expects(const KnobInfo& k) {
  switch (k.type) {
    case KnobType::Bool: return "true or false (also 1/0, on/off)";
    case KnobType::F64: return "a number in " + knob_range(k);
    default: return "an integer in " + knob_range(k);
  }
}

std::string describe_knob_error(std::string_view knob, std::string_view value, const Error& error) {
  const KnobInfo* k = Config::find(knob);
  if (!k) return "unknown knob '" + std::string(knob) + "' (`hana-net knobs` lists them)";
  // Config::set's own errors ("knob NAME: value does not parse" / "...: value out of range [..]")
  // are replaced by what the knob expects in user terms; other errors (rules, runtime) kept.
  const std::string message = error.message;
  std::string out = std::string(knob) + ": '" + std::string(value) + "' rejected: ";
  if (message.find(": value does not parse") != std::string::npos) return out + "not " + knob_expects(*k);
  if (message.find(": value out of range") != std::string::npos) return out + "expected " + knob_expects(*k);
  return out + message;
}

std::string apply_knob_assignments(Config& config, std::span<const std::string> assignments) {
  for (const std::string& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) return "--knob '" + a + "': want NAME=VALUE";
    const std::string_view name = std::string_view(a).substr(0, eq), value = std::string_view(a).substr(eq + 1);
    if (auto r = config.set(name, value); !r) return "--knob " + describe_knob_error(name, value, r.error());
  }
  if (auto v = config.validate(); !v) return "--knob: " + std::string(v.error().message);
  return {};
}

Result<std::string> Config::get(std::string_view knob) const {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) \
  if (knob == #name) return format_value(name);
#include "hana/knobs.def"
#undef HANA_KNOB
  return Error{Errc::InvalidArgument, "unknown knob name"};
}

}  // namespace hana
