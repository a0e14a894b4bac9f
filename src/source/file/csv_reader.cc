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
  int c = Get();
  if (c == -2) return IoError("{}: read error (corrupt gzip stream?)", path_);
  if (c == -1) return false;
  out->first_line = line_;
  std::string field;
  bool quoted = false;
  for (;;) {
    if (c == -2) return IoError("{}: read error (corrupt gzip stream?)", path_);
    if (quoted) {
      if (c == -1) {
        return Corruption("{}: line {}: quoted field is not closed before end of file (RFC 4180)",
                          path_, out->first_line);
      }
      if (c == '"') {
        int n = Get();
        if (n == '"') {
          field.push_back('"');
        } else {
          quoted = false;
          c = n;
          continue;
        }
      } else {
        if (c == '\n') ++line_;
        field.push_back(static_cast<char>(c));
      }
      c = Get();
      continue;
    }
    if (c == -1 || c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      out->fields.push_back(std::move(field));
      if (c == '\n') ++line_;
      return true;
    }
    if (c == ',') {
      out->fields.push_back(std::move(field));
      field.clear();
    } else if (c == '"' && field.empty()) {
      quoted = true;
    } else {
      field.push_back(static_cast<char>(c));
    }
    c = Get();
  }
}

}  // namespace lakestream
