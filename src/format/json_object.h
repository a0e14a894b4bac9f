// JsonObjectReader: reads an event payload as one JSON object and returns its top-level members, for
// the event decoders (order_event.h, schema_decoder.h). Built on simdjson's On Demand API, so that:
//  - a number keeps the exact text it was written with (the decoders type it: 1e-400 is not rounded
//    to 0, a 30-digit integer is not an error unless a field of the schema needs it);
//  - a member the decoder does not know is skipped unparsed (its value must still be well-formed);
//  - a key that appears twice is an error, never first-wins or last-wins (RFC 8259 §4 leaves the
//    outcome to the parser; I-JSON, RFC 7493 §2.3, forbids it);
//  - an error names the byte offset where the payload stops being valid JSON.
// Not thread-safe: one reader per decoding thread (it reuses its buffers).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lakestream {

enum class JsonKind { kString, kNumber, kBool, kNull, kObject, kArray };

/// One top-level member.
struct JsonMember {
  std::string key;   // unescaped
  JsonKind kind = JsonKind::kNull;
  std::string text;  // string: unescaped; number: the token as written; bool: true/false; object, array: raw JSON
  size_t offset = 0; // byte offset of the value in the payload
};

class JsonObjectReader {
 public:
  JsonObjectReader();
  ~JsonObjectReader();
  /// Parses `payload`. Returns false and sets `*error` ("payload is not valid JSON at byte 17: …", "payload
  /// is JSON but not an object", "key \"Price\" appears twice (bytes 40 and 91) …") when it is not one
  /// well-formed JSON object with distinct keys.
  bool Read(std::string_view payload, std::vector<JsonMember>* members, std::string* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// True when `text` (a JSON number token) is a finite number that a double holds without flushing to
/// zero or overflowing: "1e-400" and "1e400" are not. `*value` receives it.
bool JsonNumberToDouble(std::string_view text, double* value);

}  // namespace lakestream
