// JsonSchema: validates JSON documents against a JSON Schema (draft 2020-12) — the subset that our
// event contracts use, so that producers and consumers check one schema file (docs/events/*.json).
//
// Supported keywords: type (string or array), const, enum, required, properties,
// additionalProperties (boolean), minLength, maxLength, pattern (ECMA-262 via std::regex),
// minimum, maximum, format "date-time" (RFC 3339). Unknown keywords are ignored, as the spec allows
// for annotations; "$schema", "$id", "title", "description" are annotations.
// A JsonSchema is immutable after Parse and safe to share between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace simdjson::dom {
class element;
}

namespace lakestream {

class JsonSchema {
 public:
  ~JsonSchema();
  JsonSchema(JsonSchema&&) noexcept;
  /// Parses schema text. Errors: InvalidArgument when the text is not JSON or a keyword is malformed.
  static Result<JsonSchema> Parse(std::string_view schema_json);
  /// Validates a parsed document. Returns OK, or InvalidArgument whose message names the JSON
  /// pointer of the failing field and the rule, e.g. "/Price: expected type number, got string".
  Status Validate(const simdjson::dom::element& doc) const;

  struct Node;

 private:
  JsonSchema();
  std::unique_ptr<Node> root_;
};

}  // namespace lakestream
