// ResultWriter: writes a query result, row by row, as an aligned text table, CSV (RFC 4180) or JSON
// lines — for `lakestream sql`, `POST /api/v1/sql` and the batch jobs' outputs (docs/sql.md).
//
// Not thread-safe: one writer per result.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"

namespace lakestream {

/// kHumanPtBr is the batch jobs' human report: a Markdown-style table ("| a | b |" over "|---|---|"),
/// null as "null", DECIMAL values the pt-BR way (PtBrDecimal). ParseResultFormat does not offer it.
enum class ResultFormat { kTable, kCsv, kJson, kHumanPtBr };

/// "table", "csv" or "json" (JSON lines). Errors: InvalidArgument naming the accepted values.
Result<ResultFormat> ParseResultFormat(std::string_view name);

class ResultWriter {
 public:
  /// Receives the text as it is produced; returns false when the reader has gone (writing stops).
  using Sink = std::function<bool(std::string_view)>;
  /// kTable and kHumanPtBr keep the rows until Finish (it needs every width; give it a row limit); kCsv and kJson
  /// write each row at once. CSV: a header line, fields quoted when they hold a comma, quote or CR/LF
  /// (quotes doubled), NULL as an empty field, lines ending in "\n". JSON lines: one object per row, numbers
  /// and booleans bare (a non-finite float as a string), nested values as JSON, NULL as null. Table:
  /// columns padded to their widths in code points, " | " between them, NULL shown as "NULL".
  static std::unique_ptr<ResultWriter> Make(ResultFormat format, Sink sink);
  virtual ~ResultWriter() = default;
  virtual void Header(const std::vector<ColumnarEngine::ResultColumn>& columns) = 0;
  /// Returns false when the sink refused the text.
  virtual bool Row(const std::vector<std::optional<std::string_view>>& values) = 0;
  virtual void Finish() = 0;
};

/// Formats a decimal's text ("-56333.33") the pt-BR way: "." between thousands, "," before the
/// fraction ("-56.333,33"). Text that is not a plain decimal comes back unchanged.
std::string PtBrDecimal(std::string_view plain);

/// Appends one value as JSON: a kNumber bare when its text is a JSON number (else a string, e.g.
/// "nan"), kBoolean and kJson bare, kText as a string.
void AppendJsonValue(std::string* out, ColumnarEngine::ValueKind kind, std::string_view value);

/// Appends one CSV field to `out`: quoted when it holds a comma, quote or line break, quotes doubled
/// (RFC 4180, section 2).
void AppendCsvField(std::string* out, std::string_view v);

}  // namespace lakestream
