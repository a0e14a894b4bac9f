#include "query/result_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/json_writer.h"
#include "common/strings.h"

namespace lakestream {

namespace {

bool IsJsonNumber(std::string_view v) {
  if (v.empty()) return false;
  size_t i = v[0] == '-' ? 1 : 0;
  if (i >= v.size() || !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  for (; i < v.size(); ++i) {
    const char c = v[i];
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      return false;
    }
  }
  return true;
}

class CsvWriter : public ResultWriter {
 public:
  explicit CsvWriter(Sink sink) : sink_(std::move(sink)) {}
  void Header(const std::vector<ColumnarEngine::ResultColumn>& columns) override {
    std::string line;
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c) line += ',';
      AppendCsvField(&line, columns[c].name);
    }
    line += '\n';
    ok_ = sink_(line);
  }
  bool Row(const std::vector<std::optional<std::string_view>>& values) override {
    line_.clear();
    for (size_t c = 0; c < values.size(); ++c) {
      if (c) line_ += ',';
      if (values[c]) AppendCsvField(&line_, *values[c]);
    }
    line_ += '\n';
    return ok_ = ok_ && sink_(line_);
  }
  void Finish() override {}

 private:
  Sink sink_;
  std::string line_;
  bool ok_ = true;
};

class JsonLinesWriter : public ResultWriter {
 public:
  explicit JsonLinesWriter(Sink sink) : sink_(std::move(sink)) {}
  void Header(const std::vector<ColumnarEngine::ResultColumn>& columns) override { columns_ = columns; }
  bool Row(const std::vector<std::optional<std::string_view>>& values) override {
    line_ = "{";
    for (size_t c = 0; c < values.size(); ++c) {
      if (c) line_ += ',';
      AppendJsonString(&line_, columns_[c].name);
      line_ += ':';
      const auto& v = values[c];
      if (!v) {
        line_ += "null";
        continue;
      }
      AppendJsonValue(&line_, columns_[c].kind, *v);
    }
    line_ += "}\n";
    return ok_ = ok_ && sink_(line_);
  }
  void Finish() override {}

 private:
  Sink sink_;
  std::vector<ColumnarEngine::ResultColumn> columns_;
  std::string line_;
  bool ok_ = true;
};

// kTable and kHumanPtBr: rows kept until Finish, which pads every column to its widest cell.
class TableWriter : public ResultWriter {
 public:
  TableWriter(Sink sink, bool pt_br) : sink_(std::move(sink)), pt_br_(pt_br) {}
  void Header(const std::vector<ColumnarEngine::ResultColumn>& columns) override {
    for (const auto& c : columns) {
      names_.push_back(c.name);
      decimal_.push_back(c.is_decimal);
    }
  }
  bool Row(const std::vector<std::optional<std::string_view>>& values) override {
    std::vector<std::string> r;
    for (size_t c = 0; c < values.size(); ++c) {
      if (!values[c]) r.emplace_back(pt_br_ ? "null" : "NULL");
      else if (pt_br_ && decimal_[c]) r.push_back(PtBrDecimal(*values[c]));
      else r.emplace_back(*values[c]);
    }
    rows_.push_back(std::move(r));
    return true;
  }
  void Finish() override {
    std::vector<size_t> width(names_.size());
    for (size_t c = 0; c < names_.size(); ++c) width[c] = Utf8Length(names_[c]);
    for (const auto& r : rows_) {
      for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], Utf8Length(r[c]));
    }
    std::string out;
    auto line = [&](const std::vector<std::string>& v) {
      std::string l = pt_br_ ? "| " : "";
      for (size_t c = 0; c < v.size(); ++c) {
        l += (c ? " | " : "") + v[c] + std::string(width[c] - Utf8Length(v[c]), ' ');
      }
      if (pt_br_) l += " |";
      else while (!l.empty() && l.back() == ' ') l.pop_back();
      out += l + "\n";
    };
    line(names_);
    std::string rule = pt_br_ ? "|" : "";
    for (size_t c = 0; c < width.size(); ++c) {
      rule += pt_br_ ? std::string(width[c] + 2, '-') + "|" : (c ? "-+-" : "") + std::string(width[c], '-');
    }
    out += rule + "\n";
    for (const auto& r : rows_) line(r);
    sink_(out);
  }

 private:
  Sink sink_;
  bool pt_br_;
  std::vector<std::string> names_;
  std::vector<bool> decimal_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace

Result<ResultFormat> ParseResultFormat(std::string_view name) {
  if (name == "table") return ResultFormat::kTable;
  if (name == "csv") return ResultFormat::kCsv;
  if (name == "json") return ResultFormat::kJson;
  return InvalidArgument("unknown format \"{}\": use table, csv or json (JSON lines)", name);
}

std::unique_ptr<ResultWriter> ResultWriter::Make(ResultFormat format, Sink sink) {
  switch (format) {
    case ResultFormat::kCsv: return std::make_unique<CsvWriter>(std::move(sink));
    case ResultFormat::kJson: return std::make_unique<JsonLinesWriter>(std::move(sink));
    case ResultFormat::kHumanPtBr: return std::make_unique<TableWriter>(std::move(sink), true);
    default: return std::make_unique<TableWriter>(std::move(sink), false);
  }
}

std::string PtBrDecimal(std::string_view plain) {
  size_t i = 0;
  std::string sign;
  if (!plain.empty() && plain[0] == '-') {
    sign = "-";
    i = 1;
  }
  const size_t dot = plain.find('.', i);
  const std::string_view whole = plain.substr(i, dot == std::string_view::npos ? std::string_view::npos : dot - i);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view() : plain.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  if (whole.empty() || !digits(whole) || !digits(frac)) return std::string(plain);
  std::string grouped;
  for (size_t k = 0; k < whole.size(); ++k) {
    if (k > 0 && (whole.size() - k) % 3 == 0) grouped += '.';
    grouped += whole[k];
  }
  return sign + grouped + (frac.empty() ? "" : "," + std::string(frac));
}

void AppendJsonValue(std::string* out, ColumnarEngine::ValueKind kind, std::string_view v) {
  switch (kind) {
    case ColumnarEngine::ValueKind::kNumber:
      if (IsJsonNumber(v)) out->append(v);
      else AppendJsonString(out, v);
      break;
    case ColumnarEngine::ValueKind::kBoolean:
    case ColumnarEngine::ValueKind::kJson:
      out->append(v);
      break;
    default:
      AppendJsonString(out, v);
  }
}

void AppendCsvField(std::string* out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace lakestream
