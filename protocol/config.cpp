// Validation and by-name access for hana::Config, generated from hana/knobs.def.
#include "hana/config.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace hana {
namespace {

template <class T>
constexpr KnobType knob_type_of() {
  if constexpr (std::is_same_v<T, bool>) return KnobType::Bool;
  else if constexpr (std::is_same_v<T, double>) return KnobType::F64;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return KnobType::U32;
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

}  // namespace

std::span<const KnobInfo> Config::knobs() { return kKnobs; }

const KnobInfo* Config::find(std::string_view name) {
  for (const auto& k : kKnobs)
    if (name == k.name) return &k;
  return nullptr;
}

Result<void> Config::validate() const {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) \
  if (!in_range(name, static_cast<double>(lo), static_cast<double>(hi))) \
    return Error{Errc::InvalidArgument, "knob " #name " out of range [" #lo ", " #hi "]"};
#include "hana/knobs.def"
#undef HANA_KNOB
  return {};
}

Result<void> Config::set(std::string_view knob, std::string_view value) {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc)                                     \
  if (knob == #name) {                                                                     \
    type parsed{};                                                                         \
    if (!parse_value(value, parsed))                                                       \
      return Error{Errc::InvalidArgument, "knob " #name ": value does not parse as " #type}; \
    if (!in_range(parsed, static_cast<double>(lo), static_cast<double>(hi)))               \
      return Error{Errc::InvalidArgument, "knob " #name " out of range [" #lo ", " #hi "]"}; \
    name = parsed;                                                                         \
    return {};                                                                             \
  }
#include "hana/knobs.def"
#undef HANA_KNOB
  return Error{Errc::InvalidArgument, "unknown knob name"};
}

Result<std::string> Config::get(std::string_view knob) const {
#define HANA_KNOB(type, name, def, lo, hi, runtime, doc) \
  if (knob == #name) return format_value(name);
#include "hana/knobs.def"
#undef HANA_KNOB
  return Error{Errc::InvalidArgument, "unknown knob name"};
}

}  // namespace hana
