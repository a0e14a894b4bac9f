// TomlChecker: the shared reading of our TOML declaration files (pipelines, jobs): every problem is
// collected, not just the first, each as "file:line: what — how to fix" (docs/pipelines/README.md,
// docs/jobs.md). Parsers derive from it and call Errors() at the end.
#pragma once

#include <toml++/toml.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakestream {

class TomlChecker {
 public:
  explicit TomlChecker(std::string file) : file_(std::move(file)) {}

  /// Parses `text`. Errors: InvalidArgument "file:line: description" for a TOML syntax error.
  Result<toml::table> ParseToml(std::string_view text) {
    try {
      return toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      return InvalidArgument("{}:{}: {}", file_, e.source().begin.line, e.description());
    }
  }

  /// OK when no error was recorded; else InvalidArgument with every error, one per line.
  Status Errors() const {
    if (errors_.empty()) return Status::OK();
    std::string all;
    for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e;
    return InvalidArgument("{}", all);
  }

 protected:
  void Error(const toml::node* at, const std::string& what) {
    int line = at ? static_cast<int>(at->source().begin.line) : 0;
    errors_.push_back(file_ + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what);
  }

  void OnlyKeys(const toml::table& t, std::initializer_list<std::string_view> allowed, const std::string& where) {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (auto a : allowed) ok = ok || k.str() == a;
      if (!ok) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        Error(&v, "unknown key '" + std::string(k.str()) + "' in " + where + "; the keys are: " + list);
      }
    }
  }

  // The string at `key`, "" when absent (an error when required or not a string).
  std::string String(const toml::table& t, std::string_view key, const std::string& where, bool required) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) Error(&t, where + " needs `" + std::string(key) + " = \"…\"`");
      return {};
    }
    if (!n->is_string()) {
      Error(n, where + "." + std::string(key) + " must be a string");
      return {};
    }
    return std::string(*n->value<std::string_view>());
  }

  std::vector<std::string> Strings(const toml::table& t, std::string_view key, const std::string& where) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) {
      Error(n, where + "." + std::string(key) + " must be an array of strings, e.g. [\"a\", \"b\"]");
      return out;
    }
    for (const auto& e : *a) {
      if (!e.is_string()) {
        Error(&e, where + "." + std::string(key) + " must hold strings only");
        continue;
      }
      out.emplace_back(*e.value<std::string_view>());
    }
    return out;
  }

  // Array-of-tables entries at `key` ([[key]]), each checked to be a table.
  std::vector<const toml::table*> Entries(const toml::table& t, std::string_view key, const std::string& how) {
    std::vector<const toml::table*> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) {
      Error(n, std::string(key) + " must be written as " + how + " entries");
      return out;
    }
    for (const auto& e : *a) {
      if (const toml::table* et = e.as_table()) {
        out.push_back(et);
      } else {
        Error(&e, "each " + how + " entry must be a table");
      }
    }
    return out;
  }

  std::string file_;
  std::vector<std::string> errors_;
};

}  // namespace lakestream
