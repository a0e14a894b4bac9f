// The settings table: every option of lakestream, declared once (name, type, default, unit, env
// var, flag, description). It drives command-line parsing and validation (src/app), environment
// twins, and the generated CONFIGURATION.md (`lakestream config docs`; a test fails when the
// committed file is stale). STYLE.md "Configuration".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakestream {

enum class SettingType { kString, kInt, kDouble, kBool, kRate };

struct SettingDef {
  const char* name;         // dotted name, e.g. "replay.rate"
  const char* flag;         // command-line flag, e.g. "--rate"
  SettingType type;
  const char* default_value;  // "" = unset
  const char* unit;         // "events/s", "ms", "bytes", "" …
  const char* commands;     // which commands read it: "run, produce"
  const char* description;
  int64_t min_int = 0;      // for kInt: the smallest valid value
  /// The environment twin: LAKESTREAM_ + upper-cased name with '.' -> '_'.
  std::string EnvVar() const;
};

/// All settings, in documentation order.
const std::vector<SettingDef>& AllSettings();

/// Resolved values: default < environment < command line. Immutable after Validate.
class Settings {
 public:
  /// Starts from the defaults and applies environment variables.
  static Settings FromEnvironment();
  /// Sets a value given on the command line (by dotted name).
  void Set(const std::string& name, const std::string& value);
  /// Checks every value against its type and bounds. Errors: InvalidArgument that names the flag,
  /// the env var, the bad value and what a good value looks like.
  Status Validate() const;

  std::string GetString(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  double GetDouble(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  /// For kRate: events per second, or nullopt for "max" (unpaced); 0 when unset.
  std::optional<double> GetRate(const std::string& name) const;
  bool IsSet(const std::string& name) const;

 private:
  std::map<std::string, std::string> values_;
};

/// The Markdown text of CONFIGURATION.md.
std::string GenerateConfigurationMarkdown();

}  // namespace lakestream
