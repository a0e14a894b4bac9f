// CsvReader: streams RFC 4180 records from a CSV file, plain or gzip-compressed (zlib detects which).
//
// Handles a UTF-8 byte-order mark, LF and CRLF line endings, quoted fields with embedded commas,
// doubled quotes and line breaks, and a last line without a newline. One reader per file; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakestream {

struct CsvRecord {
  std::vector<std::string> fields;
  int64_t first_line = 0;  // 1-based physical line where the record starts (the header is line 1)
};

class CsvReader {
 public:
  ~CsvReader();
  /// Opens `path`. Errors: NotFound / IoError naming the path.
  static Result<std::unique_ptr<CsvReader>> Open(const std::string& path);
  /// Reads the next record into `out`. Returns false at end of file. Errors: Corruption for an
  /// unterminated quoted field (names the line), IoError for a read failure.
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
  int64_t line_ = 1;
  int64_t bytes_read_ = 0;
};

}  // namespace lakestream
