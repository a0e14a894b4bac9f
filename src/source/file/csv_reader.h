// CSV as RFC 4180 reads it, the one CSV parser of lakestream: CsvScanner finds where records end,
// ParseCsvFields splits one record into fields, SplitCsvRecords cuts text in memory into records, and
// CsvReader streams records from a file, plain or gzip-compressed (zlib detects which).
//
// Handles a UTF-8 byte-order mark, LF and CRLF line endings, quoted fields with embedded commas,
// doubled quotes and line breaks, and a last line without a newline. A quote opens a quoted field only
// at the field's start; elsewhere it is a character of the field (`12" ruler`). After a closing quote
// only a comma or the record's end may follow.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakestream {

/// Finds record boundaries one byte at a time (RFC 4180: a line break inside a quoted field is data).
class CsvScanner {
 public:
  /// Takes the next byte; true when it ends a record (a line feed outside quotes).
  bool Feed(char c);
  /// True while a quoted field is open: at the end of the input, the last record is cut short.
  bool in_quotes() const { return in_quotes_; }
  /// The 1-based line of the next byte.
  int64_t line() const { return line_; }

 private:
  bool in_quotes_ = false;
  bool quote_in_quotes_ = false;  // a quote seen inside quotes: the field's end, or the first of ""
  bool at_field_start_ = true;
  int64_t line_ = 1;
};

/// One record's exact text (its line break and a CR before it removed) and its first line (1-based).
struct TextRecord {
  std::string text;
  int64_t line = 0;
};

/// Cuts CSV `text` into records, skipping a UTF-8 byte-order mark and empty lines. A quoted field left
/// open makes the rest of the text one record (ParseCsvFields then refuses it). Pure.
std::vector<TextRecord> SplitCsvRecords(std::string_view text);

/// The fields of one record (no line break at its end). Errors: InvalidArgument naming the column
/// (1-based) for a quoted field that is not closed, or text after a closing quote.
Result<std::vector<std::string>> ParseCsvFields(std::string_view record);

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t first_line = 0;  // 1-based physical line where the record starts (the header is line 1)
};

class CsvReader {
 public:
  ~CsvReader();
  /// Opens `path`. Errors: NotFound / IoError naming the path.
  static Result<std::unique_ptr<CsvReader>> Open(const std::string& path);
  /// Reads the next record into `out` (an empty line is one empty field). Returns false at end of file.
  /// Errors: Corruption naming the file and line for a quoted field not closed before the end of the
  /// file or text after a closing quote (ParseCsvFields), IoError for a read failure.
  Result<bool> Next(CsvRecord* out);
  /// Bytes of (uncompressed) input consumed so far.
  int64_t bytes_read() const { return bytes_read_; }

 private:
  CsvReader() = default;
  int Get();  // next byte or -1
  void* gz_ = nullptr;
  std::string path_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  bool eof_ = false;
  bool started_ = false;
  CsvScanner scanner_;
  std::string record_;
  int64_t bytes_read_ = 0;
};

}  // namespace lakestream
