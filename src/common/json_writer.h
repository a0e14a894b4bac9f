// JsonWriter: builds compact JSON text (RFC 8259) into a string. Parsing uses simdjson; this is only
// the writing side, used for Delta log actions, event payloads and API answers.
//
// Usage: w.BeginObject(); w.Key("a"); w.Int(1); w.EndObject(); w.str() == R"({"a":1})".
// Commas are inserted automatically. Not thread-safe; one writer per document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lakestream {

/// Appends `s` to `out` as a quoted JSON string, escaping quotes, backslashes and control characters.
/// Bytes >= 0x80 are copied as they are (the input is expected to be UTF-8).
void AppendJsonString(std::string* out, std::string_view s);

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  /// Inserts already-serialised JSON (a number's exact text, a nested document) as one value.
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace lakestream
