// docs/knobs.md is generated from the knob table (include/hana/knobs.def). This test
// renders it and fails when the checked-in file is stale. To regenerate:
//   HANA_UPDATE_DOCS=1 build/tests/hana_engine_tests --gtest_filter='KnobsDoc.*'
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "hana/config.h"

namespace hana {
namespace {

std::string render() {
  std::ostringstream out;
  out << "# Knobs\n\n"
      << "Every knob of `hana::Config`, generated from `include/hana/knobs.def` (the one knob table)\n"
      << "by `tests/engine/knobs_doc_test.cpp`, which fails when this file is stale. Regenerate with\n"
      << "`HANA_UPDATE_DOCS=1 build/tests/hana_engine_tests --gtest_filter='KnobsDoc.*'`.\n\n"
      << "Set knobs in the `Config` passed to `hana::Node::create`; knobs marked *runtime* can also\n"
      << "change on a running node with `Node::set(name, value)` (validated: an unknown name, a value\n"
      << "that does not parse, one outside the range or one breaking a rule below is an\n"
      << "`InvalidArgument` error; `hana::describe_knob_error` words it for an operator, quoting the\n"
      << "value and what the knob expects). `hana-net knobs [--json] [--control PATH]` lists them,\n"
      << "with the running node's values when given one.\n"
      << "Booleans accept true/false, 1/0, on/off.\n\n"
      << "| knob | type | default | range | runtime | meaning |\n"
      << "|---|---|---|---|---|---|\n";
  const Config defaults;
  for (const KnobInfo& k : Config::knobs()) {
    const auto def = defaults.get(k.name);
    out << "| `" << k.name << "` | " << to_string(k.type) << " | " << (def.ok() ? *def : "?") << " | ";
    out << knob_range(k) << " | " << (k.runtime ? "yes" : "no") << " | " << k.doc << " |\n";
  }
  out << "\n## Rules between knobs\n\n"
      << "Checked by `Config::validate()`: by `Node::create`, by `Node::set` on the changed\n"
      << "configuration, and by `hana-net node --config` once the whole file is read.\n\n";
  for (const KnobRule& r : Config::rules()) out << "- `" << r.lower << "` ≤ `" << r.upper << "`: " << r.why << "\n";
  return out.str();
}

TEST(KnobsDoc, DocsKnobsMdMatchesTheKnobTable) {
  const std::string path = std::string(HANA_SOURCE_DIR) + "/docs/knobs.md";
  const std::string expected = render();
  if (std::getenv("HANA_UPDATE_DOCS")) {
    std::ofstream(path) << expected;
  }
  std::ifstream in(path);
  std::stringstream actual;
  actual << in.rdbuf();
  EXPECT_EQ(actual.str(), expected) << "docs/knobs.md is stale; regenerate: HANA_UPDATE_DOCS=1 "
                                       "build/tests/hana_engine_tests --gtest_filter='KnobsDoc.*'";
}

TEST(KnobsDoc, EveryKnobHasADocAndASaneRange) {
  for (const KnobInfo& k : Config::knobs()) {
    EXPECT_GT(std::string(k.doc).size(), 10u) << k.name;
    EXPECT_LE(k.min, k.max) << k.name;
    EXPECT_GE(k.default_value, k.min) << k.name;
    EXPECT_LE(k.default_value, k.max) << k.name;
  }
  EXPECT_TRUE(Config{}.validate().ok());
}

}  // namespace
}  // namespace hana
