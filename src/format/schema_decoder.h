// SchemaDecoder: types a JSON payload by a declared schema (a pipeline file's [schema], see
// docs/pipelines/README.md "Schema"), for silver. One decoder per thread (it holds a simdjson parser).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lake/columnar/columnar.h"

namespace lakestream {

/// A declared field: its JSON member name, silver type, and whether it must be present and non-null.
struct DecodedField {
  std::string name;
  ColumnSpec column;
  bool required = false;
};

/// Why a payload was refused: the rule ("valid_json" or "schema") and a message naming the member.
struct DecodeError {
  std::string rule;
  std::string message;
};

class SchemaDecoder {
 public:
  /// `unknown_fields_are_errors`: a member the schema does not declare refuses the record.
  SchemaDecoder(std::vector<DecodedField> fields, bool unknown_fields_are_errors);
  ~SchemaDecoder();

  /// Types `payload` (a JSON object, UTF-8) and appends one value per field to columns 0..n-1 of `out`
  /// (the fields' order), returning true; or appends nothing, fills `why` and returns false. Rules:
  /// string ← a JSON string (or an integer, as its text); long/int ← a JSON integer in range;
  /// double ← a number; boolean ← true/false; timestamp ← ISO 8601 text with a date, a time and an
  /// offset ("2020-02-03T14:00:01.001+00:00", "…Z"), stored as UTC µs; date ← "YYYY-MM-DD";
  /// decimal(p,s) ← a number or numeric text with at most s fraction digits and p digits in all.
  /// A required field that is absent or null refuses the record; an optional one is NULL.
  bool Decode(std::string_view payload, RecordBatch& out, DecodeError* why);

  /// The number of declared fields (the columns Decode appends).
  size_t num_fields() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses ISO 8601 date-time text that carries an offset (or Z) into UTC µs; nullopt otherwise.
std::optional<int64_t> ParseIsoTimestampWithOffset(std::string_view text);

}  // namespace lakestream
