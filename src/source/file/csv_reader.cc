#include "source/file/csv_reader.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace lakestream {

CsvReader::~CsvReader() {
  if (gz_ != nullptr) gzclose(static_cast<gzFile>(gz_));
}

Result<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return NotFound("input file {} does not exist", path);
    return IoError("cannot open input file {}: {}", path, std::strerror(errno));
  }
  gzbuffer(f, 1 << 17);
  std::unique_ptr<CsvReader> r(new CsvReader());
  r->gz_ = f;
  r->path_ = path;
  r->buf_.resize(1 << 16);
  return r;
}

int CsvReader::Get() {
  if (pos_ == len_) {
    if (eof_) return -1;
    int n = gzread(static_cast<gzFile>(gz_), buf_.data(), static_cast<unsigned>(buf_.size()));
    if (n <= 0) {
      eof_ = true;
      return n < 0 ? -2 : -1;
    }
    len_ = static_cast<size_t>(n);
    pos_ = 0;
  }
  ++bytes_read_;
  return static_cast<unsigned char>(buf_[pos_++]);
}

Result<bool> CsvReader::Next(CsvRecord* out) {
  out->fields.clear();
  if (!started_) {
    started_ = true;
    // Skip a UTF-8 BOM (EF BB BF).
    int a = Get();
    if (a == 0xEF) {
      int b = Get(), c = Get();
      if (b != 0xBB || c != 0xBF) return Corruption("{}: invalid byte sequence at start of file", path_);
    } else if (a >= 0) {
      --pos_;
      --bytes_read_;
    } else if (a == -2) {
      return IoError("{}: read error (corrupt gzip stream?)", path_);
    }
  }
  record_.clear();
  out->first_line = scanner_.line();
  int c = Get();
  if (c == -1) return false;
  for (;; c = Get()) {
    if (c == -2) return IoError("{}: read error (corrupt gzip stream?)", path_);
    if (c == -1) {
      if (scanner_.in_quotes()) {
        return Corruption("{}: line {}: quoted field is not closed before end of file (RFC 4180)", path_,
                          out->first_line);
      }
      break;
    }
    if (scanner_.Feed(static_cast<char>(c))) break;
    record_.push_back(static_cast<char>(c));
  }
  if (!record_.empty() && record_.back() == '\r') record_.pop_back();
  auto fields = ParseCsvFields(record_);
  if (!fields.ok()) return Corruption("{}: line {}: {} (RFC 4180)", path_, out->first_line, fields.status().message());
  out->fields = std::move(fields).value();
  return true;
}

bool CsvScanner::Feed(char c) {
  if (in_quotes_) {
    if (c == '"') {
      in_quotes_ = false;
      quote_in_quotes_ = true;
    } else if (c == '\n') {
      ++line_;
    }
    return false;
  }
  if (quote_in_quotes_) {
    quote_in_quotes_ = false;
    if (c == '"') {  // "" inside a quoted field: a quote, and the field goes on
      in_quotes_ = true;
      return false;
    }
  }
  if (c == '\n') {
    ++line_;
    at_field_start_ = true;
    return true;
  }
  if (c == '"' && at_field_start_) {
    in_quotes_ = true;
    at_field_start_ = false;
    return false;
  }
  at_field_start_ = c == ',';
  return false;
}

std::vector<TextRecord> SplitCsvRecords(std::string_view text) {
  std::vector<TextRecord> out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte-order mark
  CsvScanner scanner;
  size_t start = 0;
  int64_t start_line = 1;
  auto cut = [&](size_t end) {
    if (end > start && text[end - 1] == '\r') --end;
    if (end > start) out.push_back(TextRecord{std::string(text.substr(start, end - start)), start_line});
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (scanner.Feed(text[i])) {
      cut(i);
      start = i + 1;
      start_line = scanner.line();
    }
  }
  cut(text.size());
  return out;
}

Result<std::vector<std::string>> ParseCsvFields(std::string_view r) {
  std::vector<std::string> fields(1);
  size_t i = 0;
  bool at_start = true;
  while (i < r.size()) {
    const char c = r[i];
    if (at_start && c == '"') {
      ++i;
      bool closed = false;
      while (i < r.size()) {
        if (r[i] == '"') {
          if (i + 1 < r.size() && r[i + 1] == '"') {
            fields.back() += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        fields.back() += r[i++];
      }
      if (!closed) return InvalidArgument("column {}: a quoted field is not closed", fields.size());
      if (i < r.size() && r[i] != ',') {
        return InvalidArgument("column {}: text after the closing quote (RFC 4180 allows only a comma there)",
                               fields.size());
      }
      at_start = false;
      continue;
    }
    if (c == ',') {
      fields.emplace_back();
      at_start = true;
    } else {
      fields.back() += c;
      at_start = false;
    }
    ++i;
  }
  return fields;
}

}  // namespace lakestream
