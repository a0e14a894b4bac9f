#include "jobs/batch_job.h"

#include "config/bundled_files.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time.h"
#include "config/toml_checker.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "lake/delta/delta_writer.h"
#include "lake/storage/storage.h"
#include "lake/delta/table_io.h"
#include "query/result_writer.h"

namespace lakestream {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------
// The job file.

namespace {

bool ValidIdentifier(std::string_view s) {
  if (s.empty() || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool ValidTable(std::string_view s) {
  const size_t slash = s.find('/');
  return slash != std::string_view::npos && s.find('/', slash + 1) == std::string_view::npos &&
         ValidIdentifier(s.substr(0, slash)) && ValidIdentifier(s.substr(slash + 1));
}

class JobSpecParser : public TomlChecker {
 public:
  using TomlChecker::TomlChecker;

  Result<JobSpec> Parse(std::string_view text) {
    ASSIGN_OR_RETURN(toml::table root, ParseToml(text));
    spec_.file = file_;
    spec_.dir = fs::path(file_).parent_path().string();
    OnlyKeys(root, {"job", "input", "params", "bronze", "silver", "gold", "output"}, "the file");
    const toml::table* job = Section(root, "job");
    if (job) {
      OnlyKeys(*job, {"name", "description"}, "[job]");
      spec_.name = String(*job, "name", "[job]", true);
      spec_.description = String(*job, "description", "[job]", false);
      if (!spec_.name.empty() && !ValidIdentifier(spec_.name)) {
        Error(job->get("name"), "[job].name must be lower case letters, digits and _, e.g. \"invoices\"");
      }
    }
    if (const toml::table* in = Section(root, "input")) {
      OnlyKeys(*in, {"format", "default", "last_line_break"}, "[input]");
      spec_.input_format = String(*in, "format", "[input]", true);
      const std::string last = String(*in, "last_line_break", "[input]", false);
      if (!last.empty() && last != "required" && last != "optional") {
        Error(in->get("last_line_break"), "[input].last_line_break must be \"required\" (the default: a CSV whose "
                                          "last record has no line break is refused as possibly cut short) or "
                                          "\"optional\"");
      }
      spec_.last_line_break_optional = last == "optional";
      if (!spec_.input_format.empty() && spec_.input_format != "csv" && spec_.input_format != "json") {
        Error(in->get("format"), "[input].format must be \"csv\" (a header line, then records) or \"json\" (an array of "
                                 "records, or JSON lines)");
      }
      if (const toml::node* d = in->get("default")) {
        if (d->is_string()) spec_.default_inputs.emplace_back(*d->value<std::string_view>());
        else spec_.default_inputs = Strings(*in, "default", "[input]");
      }
    }
    for (const toml::table* p : Entries(root, "params", "[[params]]")) {
      OnlyKeys(*p, {"name", "default", "pattern", "example"}, "[[params]]");
      JobParam jp{String(*p, "name", "[[params]]", true), String(*p, "default", "[[params]]", false),
                  String(*p, "pattern", "[[params]]", false), String(*p, "example", "[[params]]", false)};
      if (!jp.name.empty() && !ValidIdentifier(jp.name)) Error(p->get("name"), "a parameter name must be lower case letters, digits and _");
      if (!jp.pattern.empty()) {
        try {
          std::regex re(jp.pattern);
          if (!jp.default_value.empty() && !std::regex_match(jp.default_value, re)) {
            Error(p->get("default"), "the default \"" + jp.default_value + "\" does not match the pattern " + jp.pattern);
          }
        } catch (const std::regex_error& e) {
          Error(p->get("pattern"), std::string("pattern is not a regular expression (ECMAScript): ") + e.what());
        }
      }
      spec_.params.push_back(std::move(jp));
    }
    if (const toml::table* b = Section(root, "bronze")) {
      OnlyKeys(*b, {"table"}, "[bronze]");
      spec_.bronze_table = Table(*b, "[bronze]");
    }
    if (const toml::table* s = Section(root, "silver")) {
      OnlyKeys(*s, {"table", "key", "expectations", "sql"}, "[silver]");
      spec_.silver_table = Table(*s, "[silver]");
      spec_.silver_key = Strings(*s, "key", "[silver]");
      spec_.silver_sql = String(*s, "sql", "[silver]", true);
      std::set<std::string> names;
      if (const toml::node* n = s->get("expectations")) {
        const toml::array* a = n->as_array();
        if (!a) Error(n, "[silver].expectations must be an array of { name = \"…\", condition = \"…\" }");
        for (size_t i = 0; a && i < a->size(); ++i) {
          const toml::table* e = a->get(i)->as_table();
          if (!e) {
            Error(a->get(i), "each expectation is { name = \"…\", condition = \"…\" }");
            continue;
          }
          OnlyKeys(*e, {"name", "condition"}, "an expectation");
          JobExpectation je{String(*e, "name", "an expectation", true), String(*e, "condition", "an expectation", true)};
          if (!je.name.empty() && !names.insert(je.name).second) Error(a->get(i), "two expectations are named " + je.name);
          spec_.expectations.push_back(std::move(je));
        }
      }
    }
    if (const toml::table* g = Section(root, "gold")) {
      OnlyKeys(*g, {"table", "sql", "partition_by"}, "[gold]");
      spec_.gold_table = Table(*g, "[gold]");
      spec_.gold_sql = String(*g, "sql", "[gold]", true);
      spec_.gold_partition_by = Strings(*g, "partition_by", "[gold]");
      for (const auto& p : spec_.gold_partition_by) {
        bool known = false;
        for (const auto& jp : spec_.params) known = known || jp.name == p;
        if (!known) Error(g->get("partition_by"), "[gold].partition_by names '" + p + "', which is not a parameter: "
                                                  "partition gold by the parameters a run replaces");
      }
    }
    if (const toml::table* o = Section(root, "output")) {
      OnlyKeys(*o, {"sql", "split_by", "pivot", "yes_no_booleans"}, "[output]");
      spec_.output_sql = String(*o, "sql", "[output]", true);
      spec_.split_by = String(*o, "split_by", "[output]", false);
      if (const toml::node* b = o->get("yes_no_booleans")) {
        if (!b->is_boolean()) Error(b, "[output].yes_no_booleans must be true or false");
        else spec_.yes_no_booleans = *b->value<bool>();
      }
      if (const toml::node* pn = o->get("pivot")) {
        const toml::table* p = pn->as_table();
        if (!p) {
          Error(pn, "[output].pivot is { key = \"…\", value = \"…\", order_by = \"…\" }");
        } else {
          OnlyKeys(*p, {"key", "value", "order_by"}, "[output].pivot");
          spec_.pivot = JobPivot{String(*p, "key", "[output].pivot", true), String(*p, "value", "[output].pivot", true),
                                 String(*p, "order_by", "[output].pivot", true)};
        }
      }
    }
    std::set<std::string> tables;
    for (const std::string* t : {&spec_.bronze_table, &spec_.silver_table, &spec_.gold_table}) {
      if (!t->empty() && !tables.insert(*t).second) Error(&root, "two layers use the table " + *t + ": give each its own");
    }
    RETURN_IF_ERROR(Errors());
    return std::move(spec_);
  }

 private:
  const toml::table* Section(const toml::table& root, std::string_view key) {
    const toml::node* n = root.get(key);
    if (!n || !n->is_table()) {
      Error(n ? n : &root, "the file needs a [" + std::string(key) + "] table (docs/jobs.md)");
      return nullptr;
    }
    return n->as_table();
  }
  std::string Table(const toml::table& t, const std::string& where) {
    std::string v = String(t, "table", where, true);
    if (!v.empty() && !ValidTable(v)) {
      Error(t.get("table"), where + ".table must be \"layer/name\" in lower case, e.g. \"silver/invoices\"");
    }
    return v;
  }
  JobSpec spec_;
};

}  // namespace

Result<JobSpec> LoadJobSpec(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read the job file {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return JobSpecParser(path).Parse(ss.str());
}

Result<std::string> FindJobFile(const std::string& name_or_path, const std::string& jobs_dir) {
  if (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".toml") return name_or_path;
  const fs::path p = fs::path(jobs_dir) / (name_or_path + ".toml");
  std::error_code ec;
  // From the working directory, else beside the binary (jobs/ ships with it: config/bundled_files.h).
  if (auto found = FindBundled(p.string())) return *found;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(jobs_dir, ec)) {
    if (e.path().extension() == ".toml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return NotFound("no job '{}' in {} (jobs there: {}); pass a job file (….toml) or --jobs-dir DIR", name_or_path,
                  jobs_dir, list.empty() ? "none" : list);
}

// ---------------------------------------------------------------------------------------------------
// Splitting input files into records.

std::vector<InputRecord> SplitJsonRecords(std::string_view text) {
  std::vector<InputRecord> out;
  size_t i = 0;
  int64_t line = 1;
  auto advance = [&](size_t to) {
    for (; i < to && i < text.size(); ++i) line += text[i] == '\n';
  };
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) advance(i + 1);
  if (i < text.size() && text[i] == '[') {
    advance(i + 1);
    for (;;) {
      while (i < text.size() && (std::isspace(static_cast<unsigned char>(text[i])) || text[i] == ',')) advance(i + 1);
      if (i >= text.size() || text[i] == ']') break;
      // One element: up to the next comma or ']' at depth 0, outside strings.
      const size_t start = i;
      const int64_t start_line = line;
      int depth = 0;
      bool in_string = false;
      size_t j = i;
      for (; j < text.size(); ++j) {
        const char c = text[j];
        if (in_string) {
          if (c == '\\') ++j;
          else if (c == '"') in_string = false;
          continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') {
          if (depth == 0) break;
          --depth;
        } else if (c == ',' && depth == 0) {
          break;
        }
      }
      size_t end = std::min(j, text.size());
      size_t trimmed = end;
      while (trimmed > start && std::isspace(static_cast<unsigned char>(text[trimmed - 1]))) --trimmed;
      out.push_back(InputRecord{std::string(text.substr(start, trimmed - start)), start_line});
      advance(end);
    }
    return out;
  }
  // JSON lines.
  while (i < text.size()) {
    const size_t nl = std::min(text.find('\n', i), text.size());
    std::string_view l = text.substr(i, nl - i);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
    size_t lead = 0;
    while (lead < l.size() && std::isspace(static_cast<unsigned char>(l[lead]))) ++lead;
    if (lead < l.size()) out.push_back(InputRecord{std::string(l.substr(lead)), line});
    advance(nl + 1);
  }
  return out;
}

Status CheckInputComplete(const std::string& name, std::string_view text, const std::string& format,
                          bool last_line_break_optional) {
  const int64_t lines = 1 + std::count(text.begin(), text.end(), '\n');
  size_t last = text.find_last_not_of(" \t\r\n");
  if (last == std::string_view::npos) return Status::OK();  // empty: no records
  if (format == "json") {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (text[first] == '[' && text[last] != ']') {
      return Corruption("input {} is cut short: its JSON array has no closing ']' (the file ends at line {}, byte "
                             "{}). Nothing was committed: get the whole file and run the job again",
                             name, lines, text.size());
    }
    return Status::OK();
  }
  CsvScanner scanner;
  for (char c : text) scanner.Feed(c);
  if (scanner.in_quotes()) {
    return Corruption("input {} is cut short: a quoted field opened in its last record is never closed (the file "
                           "ends at line {}, byte {}). Nothing was committed: get the whole file and run the job again",
                           name, lines, text.size());
  }
  if (text.back() != '\n' && !last_line_break_optional) {
    return Corruption(
        "input {} may be cut short: its last record (line {}, from byte {}) has no line break, so a file cut inside "
        "its last value (300 read as 30) cannot be told from a whole one. Nothing was committed. If the file is "
        "whole, add a line break at its end, or set [input].last_line_break = \"optional\" in the job file for a "
        "source known to omit it (docs/jobs.md)",
        name, lines, text.rfind('\n') == std::string_view::npos ? 0 : text.rfind('\n') + 1);
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------------
// Running a job.

namespace {

constexpr const char* kAppPrefix = "lakestream-job-";

std::string SubstituteParams(const std::string& sql, const std::map<std::string, std::string>& params) {
  std::string out = sql;
  for (const auto& [k, v] : params) {
    const std::string token = "{" + k + "}";
    for (size_t pos = out.find(token); pos != std::string::npos; pos = out.find(token, pos)) {
      const std::string lit = ColumnarEngine::Quote(v);
      out.replace(pos, token.size(), lit);
      pos += lit.size();
    }
  }
  return out;
}

Result<DeltaSchema> SchemaOfQuery(ColumnarEngine& engine, const std::string& sql, const std::string& layer) {
  auto d = engine.Query("DESCRIBE " + sql);
  if (!d.ok()) return InvalidArgument("the {} SQL: {}", layer, d.status().message());
  DeltaSchema schema;
  for (const auto& row : d->rows) {
    auto type = DeltaTypeOfDuckDb(row[1].value_or(""));
    if (!type.ok()) return type.status().WithContext(fmt::format("the {} SQL's column {}", layer, row[0].value_or("")));
    schema.fields.push_back(DeltaField{row[0].value_or(""), *type, true});
  }
  return schema;
}

Result<std::unique_ptr<DeltaTable>> OpenTable(const std::string& lakehouse, const std::string& table) {
  ASSIGN_OR_RETURN(auto storage, OpenStorage(JoinLocation(lakehouse, table), true));
  return DeltaTable::Open(storage, table);
}

// Creates the view `name` over the current snapshot of `table`.
Status ViewOf(ColumnarEngine& engine, DeltaTable& table, const std::string& name) {
  ASSIGN_OR_RETURN(std::string scan, SnapshotScanSql(table.snapshot(), table.storage(), engine));
  return engine.Query("CREATE OR REPLACE TEMP VIEW " + name + " AS " + scan).status();
}

// Replaces the rows of `table` (those of `partition` when given) by the rows of `select_sql`, as one
// commit carrying `txns`. Creates the table with `schema` when new.
Status Overwrite(ColumnarEngine& engine, DeltaTable& table, const DeltaSchema& schema,
                          const std::vector<std::string>& partition_columns,
                          const std::map<std::string, std::string>& partition, const std::string& select_sql,
                          std::vector<TxnAction> txns, const std::string& job) {
  RETURN_IF_ERROR(table.CreateIfNotExists(schema, partition_columns, {}).WithContext(table.name()));
  ASSIGN_OR_RETURN(std::vector<AddFile> adds, WriteDataFiles(engine, table.storage(), table.snapshot(), select_sql));
  Transaction txn;
  txn.operation = "WRITE";
  JsonWriter params;
  params.BeginObject().Key("mode").String("Overwrite").Key("job").String(job);
  std::string where;
  for (const auto& [k, v] : partition) where += fmt::format("{}{} = '{}'", where.empty() ? "" : " AND ", k, v);
  if (!where.empty()) params.Key("replaceWhere").String(where);
  params.EndObject();
  txn.operation_parameters_json = params.Take();
  const int64_t now = NowMillis();
  for (const auto& [path, add] : table.snapshot().files) {
    bool in_partition = true;
    for (const auto& [k, v] : partition) {
      auto it = add.partition_values.find(k);
      in_partition = in_partition && it != add.partition_values.end() && it->second == v;
    }
    if (in_partition) txn.removes.push_back(RemoveOf(add, now, true));
  }
  txn.adds = std::move(adds);
  txn.txns = std::move(txns);
  txn.read_whole_table = true;
  return table.Commit(txn).status().WithContext(table.name());
}

struct Decoded {
  RecordBatch input;        // columns, then _file, _record, _line, _landed_at
  RecordBatch quarantine;   // _file, _sha256, _record, _line, raw, failed_rules, reason, _landed_at
  std::vector<size_t> source;  // per input row: its index in the bronze rows
};

std::vector<ColumnSpec> QuarantineSchema() {
  return {{"_file", ColumnType::kString}, {"_sha256", ColumnType::kString}, {"_record", ColumnType::kInt64},
          {"_line", ColumnType::kInt64}, {"raw", ColumnType::kString}, {"failed_rules", ColumnType::kString},
          {"reason", ColumnType::kString}, {"_landed_at", ColumnType::kTimestampMicros}};
}

void AddQuarantined(RecordBatch& q, const std::string& file, const std::string& sha, int64_t record, int64_t line,
                    std::string_view raw, const std::string& rules, const std::string& reason, int64_t landed_us) {
  q.AppendString(0, file);
  q.AppendString(1, sha);
  q.AppendInt(2, record);
  q.AppendInt(3, line);
  q.AppendString(4, raw);
  q.AppendString(5, rules);
  q.AppendString(6, reason);
  q.AppendInt(7, landed_us);
}

struct BronzeRow {
  std::string file, sha, header, raw;
  int64_t record = 0, line = 0, landed_us = 0;
};

// Decodes bronze rows into the job's input relation, quarantining what does not decode.
Decoded Decode(const JobSpec& spec, const std::vector<BronzeRow>& rows) {
  std::vector<std::string> columns;
  std::map<std::string, std::vector<std::string>> header_of;  // header text -> fields
  if (spec.input_format == "csv") {
    for (const auto& r : rows) {
      if (header_of.count(r.header)) continue;
      auto h = ParseCsvFields(r.header);
      header_of[r.header] = h.ok() ? *h : std::vector<std::string>{};
      for (const auto& f : header_of[r.header]) {
        if (std::find(columns.begin(), columns.end(), f) == columns.end()) columns.push_back(f);
      }
    }
  } else {
    columns = {"raw"};
  }
  std::vector<ColumnSpec> schema;
  for (const auto& c : columns) schema.push_back({c, ColumnType::kString});
  for (const auto& [n, t] : std::vector<std::pair<const char*, ColumnType>>{
           {"_file", ColumnType::kString}, {"_record", ColumnType::kInt64}, {"_line", ColumnType::kInt64},
           {"_landed_at", ColumnType::kTimestampMicros}}) {
    schema.push_back({n, t});
  }
  Decoded d{RecordBatch(schema), RecordBatch(QuarantineSchema()), {}};
  simdjson::dom::parser parser;
  for (size_t ri = 0; ri < rows.size(); ++ri) {
    const BronzeRow& r = rows[ri];
    auto bad = [&](const std::string& rule, const std::string& reason) {
      AddQuarantined(d.quarantine, r.file, r.sha, r.record, r.line, r.raw, rule, reason, r.landed_us);
    };
    std::vector<std::optional<std::string>> values(columns.size());
    if (spec.input_format == "csv") {
      const auto& header = header_of[r.header];
      auto fields = ParseCsvFields(r.raw);
      if (header.empty()) {
        bad("csv_header", "the file's header line is not valid CSV");
        continue;
      }
      if (!fields.ok()) {
        bad("csv_syntax", fields.status().message());
        continue;
      }
      if (fields->size() != header.size()) {
        bad("csv_shape", fmt::format("the record has {} fields, the header has {} ({})", fields->size(), header.size(),
                                     r.header));
        continue;
      }
      for (size_t k = 0; k < header.size(); ++k) {
        const size_t col = std::find(columns.begin(), columns.end(), header[k]) - columns.begin();
        values[col] = (*fields)[k];
      }
    } else {
      simdjson::dom::element doc;
      if (auto err = parser.parse(r.raw).get(doc); err != simdjson::SUCCESS) {
        bad("valid_json", std::string("not valid JSON: ") + simdjson::error_message(err));
        continue;
      }
      if (!doc.is_object()) {
        bad("valid_json", "a record must be a JSON object");
        continue;
      }
      values[0] = r.raw;
    }
    for (size_t k = 0; k < values.size(); ++k) {
      if (values[k]) d.input.AppendString(k, *values[k]);
      else d.input.AppendNull(k);
    }
    d.input.AppendString(columns.size(), r.file);
    d.input.AppendInt(columns.size() + 1, r.record);
    d.input.AppendInt(columns.size() + 2, r.line);
    d.input.AppendInt(columns.size() + 3, r.landed_us);
    d.source.push_back(ri);
  }
  return d;
}

std::vector<ColumnSpec> BronzeColumns() {
  return {{"_file", ColumnType::kString}, {"_sha256", ColumnType::kString}, {"_record", ColumnType::kInt64},
          {"_line", ColumnType::kInt64}, {"_header", ColumnType::kString}, {"raw", ColumnType::kString},
          {"_landed_at", ColumnType::kTimestampMicros}};
}

Result<std::vector<std::string>> ResolveInputs(const JobSpec& spec, const JobRunOptions& o) {
  std::vector<std::string> patterns = o.inputs;
  const bool defaults = patterns.empty();
  if (defaults) {
    for (const auto& d : spec.default_inputs) patterns.push_back((fs::path(spec.dir) / d).lexically_normal().string());
  }
  if (patterns.empty()) return InvalidArgument("job {} has no default input: pass --input FILE", spec.name);
  std::vector<std::string> files;
  for (const auto& p : patterns) {
    glob_t g{};
    const int rc = glob(p.c_str(), 0, nullptr, &g);
    if (rc != 0 || g.gl_pathc == 0) {
      globfree(&g);
      return InvalidArgument("--input {} matches no file{}", p, defaults ? " (the job's default input)" : "");
    }
    for (size_t k = 0; k < g.gl_pathc; ++k) files.emplace_back(g.gl_pathv[k]);
    globfree(&g);
  }
  return files;
}

Result<std::map<std::string, std::string>> ResolveParams(const JobSpec& spec, const JobRunOptions& o) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : o.params) {
    const JobParam* p = nullptr;
    for (const auto& jp : spec.params) p = jp.name == k ? &jp : p;
    if (!p) {
      std::string names;
      for (const auto& jp : spec.params) names += (names.empty() ? "" : ", ") + jp.name;
      return InvalidArgument("--param {}: job {} has no such parameter (its parameters: {})", k, spec.name,
                             names.empty() ? "none" : names);
    }
  }
  for (const auto& p : spec.params) {
    auto it = o.params.find(p.name);
    const std::string v = it != o.params.end() ? it->second : p.default_value;
    if (v.empty()) return InvalidArgument("job {} needs --param {}=… (e.g. {})", spec.name, p.name, p.example);
    if (!p.pattern.empty() && !std::regex_match(v, std::regex(p.pattern))) {
      return InvalidArgument("--param {}={}: the value must match {}{}", p.name, v, p.pattern,
                             p.example.empty() ? "" : ", e.g. " + p.example);
    }
    out[p.name] = v;
  }
  return out;
}

}  // namespace

Result<JobRunResult> RunJob(const JobSpec& spec, const JobRunOptions& o) {
  JobRunResult result;
  ASSIGN_OR_RETURN(result.params, ResolveParams(spec, o));
  ASSIGN_OR_RETURN(std::vector<std::string> files, ResolveInputs(spec, o));
  ASSIGN_OR_RETURN(auto engine, ColumnarEngine::Open(2, "1GB"));
  const std::string app = kAppPrefix + spec.name;

  // 0. Every input is whole before anything is committed.
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return IoError("cannot read input {}", path);
    std::stringstream ss;
    ss << in.rdbuf();
    RETURN_IF_ERROR(CheckInputComplete(path, ss.str(), spec.input_format, spec.last_line_break_optional));
  }
  // 1. Bronze: each input file once, by checksum.
  ASSIGN_OR_RETURN(auto bronze, OpenTable(o.lakehouse, spec.bronze_table, BronzeColumns(), {}, true));
  std::set<std::string> landed_now;  // sha256 of the files landed by this run
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return IoError("cannot read input {}", path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const std::string sha = Sha256Hex(text);
    const std::string app_id = app + "-input-" + sha;
    if (bronze->snapshot().TxnVersion(app_id) || landed_now.count(sha)) {
      ++result.files_already_landed;
      continue;
    }
    std::vector<InputRecord> records =
        spec.input_format == "csv" ? SplitCsvRecords(text) : SplitJsonRecords(text);
    std::string header;
    if (spec.input_format == "csv" && !records.empty()) {
      header = records.front().text;
      records.erase(records.begin());
    }
    RecordBatch batch(BronzeColumns());
    const int64_t now_us = NowMicros();
    const std::string name = fs::path(path).filename().string();
    for (size_t k = 0; k < records.size(); ++k) {
      batch.AppendString(0, name);
      batch.AppendString(1, sha);
      batch.AppendInt(2, static_cast<int64_t>(k));
      batch.AppendInt(3, records[k].line);
      if (spec.input_format == "csv") batch.AppendString(4, header);
      else batch.AppendNull(4);
      batch.AppendString(5, records[k].text);
      batch.AppendInt(6, now_us);
    }
    Transaction txn;
    txn.operation = "WRITE";
    JsonWriter params;
    params.BeginObject().Key("mode").String("Append").Key("job").String(spec.name).Key("input").String(name);
    params.Key("sha256").String(sha).EndObject();
    txn.operation_parameters_json = params.Take();
    if (batch.num_rows() > 0) {
      ASSIGN_OR_RETURN(AddFile add, WriteDataFile(*engine, *bronze, batch));
      txn.adds.push_back(std::move(add));
    }
    txn.txns.push_back(TxnAction{app_id, 0, NowMillis()});
    auto v = bronze->Commit(txn);
    if (!v.ok()) return v.status().WithContext(spec.bronze_table);
    landed_now.insert(sha);
    ++result.files_landed;
    result.records_landed += static_cast<int64_t>(records.size());
  }
  result.bronze_version = bronze->snapshot().version;

  // 2. Silver and quarantine: a function of all of bronze, recomputed when bronze moved.
  ASSIGN_OR_RETURN(auto silver, OpenTable(o.lakehouse, spec.silver_table));
  ASSIGN_OR_RETURN(auto quarantine,
                   OpenTable(o.lakehouse, spec.QuarantineTable(), QuarantineSchema(), {}, false));
  const std::string silver_app = app + "-silver<-bronze", quarantine_app = app + "-quarantine<-bronze";
  const bool silver_due = silver->snapshot().TxnVersion(silver_app) != result.bronze_version;
  const bool quarantine_due = quarantine->snapshot().TxnVersion(quarantine_app) != result.bronze_version;
  if (silver_due || quarantine_due) {
    std::vector<BronzeRow> rows;
    RETURN_IF_ERROR(ViewOf(*engine, *bronze, "bronze"));
    RETURN_IF_ERROR(engine->ForEachRow(
        "SELECT _file, _sha256, CAST(_record AS VARCHAR), CAST(_line AS VARCHAR), _header, raw, "
        "CAST(epoch_us(_landed_at) AS VARCHAR) FROM bronze ORDER BY _landed_at, _file, _record",
        [&](const std::vector<std::optional<std::string_view>>& v) {
          rows.push_back(BronzeRow{std::string(v[0].value_or("")), std::string(v[1].value_or("")),
                                   std::string(v[4].value_or("")), std::string(v[5].value_or("")),
                                   std::stoll(std::string(v[2].value_or("0"))), std::stoll(std::string(v[3].value_or("0"))),
                                   std::stoll(std::string(v[6].value_or("0")))});
        }));
    Decoded d = Decode(spec, rows);
    // Expectations over the decoded input.
    std::vector<std::string> conditions;
    for (const auto& e : spec.expectations) conditions.push_back(e.condition);
    std::vector<uint64_t> masks(d.input.num_rows(), 0);
    if (!conditions.empty() && d.input.num_rows() > 0) {
      auto m = engine->EvaluatePredicates(d.input, conditions);
      if (!m.ok()) return InvalidArgument("[silver].expectations: {}", m.status().message());
      masks = *m;
    }
    RecordBatch passed(d.input.schema());
    for (size_t r = 0; r < d.input.num_rows(); ++r) {
      if (masks[r] == 0) {
        passed.AppendRowFrom(d.input, r);
        continue;
      }
      std::string rules, reason;
      for (size_t e = 0; e < spec.expectations.size(); ++e) {
        if (!(masks[r] >> e & 1)) continue;
        rules += (rules.empty() ? "" : ",") + spec.expectations[e].name;
        reason += fmt::format("{}expectation {} failed: {}", reason.empty() ? "" : "; ", spec.expectations[e].name,
                              spec.expectations[e].condition);
      }
      const BronzeRow& src = rows[d.source[r]];
      AddQuarantined(d.quarantine, src.file, src.sha, src.record, src.line, src.raw, rules, reason, src.landed_us);
    }
    RETURN_IF_ERROR(engine->CreateTempTable("input_all", passed));
    std::string keep_last = "SELECT * FROM input_all";
    if (!spec.silver_key.empty()) {
      std::string key;
      for (const auto& k : spec.silver_key) key += (key.empty() ? "" : ", ") + k;
      keep_last += " QUALIFY row_number() OVER (PARTITION BY " + key + " ORDER BY _landed_at DESC, _file DESC, _record DESC) = 1";
    }
    if (auto st = engine->Query("CREATE OR REPLACE TEMP VIEW input AS " + keep_last); !st.ok()) {
      return InvalidArgument("[silver].key: {}", st.status().message());
    }
    const std::string silver_sql = "(" + ColumnarEngine::SubqueryBody(spec.silver_sql) + "\n)";
    if (silver_due) {
      ASSIGN_OR_RETURN(DeltaSchema schema, SchemaOfQuery(*engine, silver_sql, "[silver]"));
      RETURN_IF_ERROR(Overwrite(*engine, *silver, schema, {}, {}, "SELECT * FROM " + silver_sql,
                                {TxnAction{silver_app, result.bronze_version, NowMillis()}}, spec.name));
      result.silver_committed = true;
    }
    if (quarantine_due) {
      RETURN_IF_ERROR(engine->CreateTempTable("quarantined", d.quarantine));
      RETURN_IF_ERROR(Overwrite(*engine, *quarantine, ToDeltaSchema(QuarantineSchema()), {}, {},
                                "SELECT * FROM quarantined",
                                {TxnAction{quarantine_app, result.bronze_version, NowMillis()}}, spec.name));
    }
    const auto& qsha = d.quarantine.column(1).strings;
    for (size_t r = 0; r < qsha.size(); ++r) {
      if (!landed_now.count(qsha[r])) continue;
      ++result.quarantined_from_this_run;
      if (result.quarantine_samples.size() < 5) {
        result.quarantine_samples.push_back(fmt::format("{} #{} (line {}): {} — {}", d.quarantine.column(0).strings[r],
                                                        d.quarantine.column(2).ints[r], d.quarantine.column(3).ints[r],
                                                        d.quarantine.column(5).strings[r], d.quarantine.column(6).strings[r]));
      }
    }
  }
  result.silver_version = silver->snapshot().version;
  result.silver_rows = silver->snapshot().NumRecords();
  result.quarantined_total = quarantine->snapshot().NumRecords();

  // 3. Gold: the job's SQL over silver for this run's parameters; committed when its content changes.
  ASSIGN_OR_RETURN(auto gold, OpenTable(o.lakehouse, spec.gold_table));
  RETURN_IF_ERROR(ViewOf(*engine, *silver, "silver"));
  const std::string gold_sql = "(" + ColumnarEngine::SubqueryBody(SubstituteParams(spec.gold_sql, result.params)) + "\n)";
  if (auto st = engine->Query("CREATE OR REPLACE TEMP TABLE gold_new AS SELECT * FROM " + gold_sql); !st.ok()) {
    return InvalidArgument("the [gold] SQL: {}", st.status().message());
  }
  ASSIGN_OR_RETURN(DeltaSchema gold_schema, SchemaOfQuery(*engine, "gold_new", "[gold]"));
  std::map<std::string, std::string> partition;
  for (const auto& p : spec.gold_partition_by) partition[p] = result.params.at(p);
  bool changed = true;
  if (gold->snapshot().version >= 0) {
    RETURN_IF_ERROR(ViewOf(*engine, *gold, "gold_current"));
    std::string where;
    for (const auto& [k, v] : partition) {
      where += fmt::format("{}{} = {}", where.empty() ? " WHERE " : " AND ", ColumnarEngine::QuoteIdentifier(k),
                           ColumnarEngine::Quote(v));
    }
    auto diff = engine->Query("SELECT count(*) FROM ((SELECT * FROM gold_new EXCEPT ALL SELECT * FROM gold_current" + where +
                              ") UNION ALL (SELECT * FROM gold_current" + where + " EXCEPT ALL SELECT * FROM gold_new))");
    if (!diff.ok()) {
      return InvalidArgument("the [gold] SQL's columns no longer match {} ({}): write the job's gold to a new table",
                             spec.gold_table, diff.status().message());
    }
    changed = diff->rows[0][0].value_or("1") != "0";
  }
  if (changed) {
    RETURN_IF_ERROR(Overwrite(*engine, *gold, gold_schema, spec.gold_partition_by, partition, "SELECT * FROM gold_new",
                              {}, spec.name));
    result.gold_committed = true;
  }
  result.gold_version = gold->snapshot().version;
  auto n = engine->Query("SELECT count(*) FROM gold_new");
  if (n.ok()) result.gold_rows = std::stoll(n->rows[0][0].value_or("0"));
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Output.

Result<JobOutputFormat> ParseJobOutputFormat(std::string_view text) {
  if (text == "human") return JobOutputFormat::kHuman;
  if (text == "csv") return JobOutputFormat::kCsv;
  if (text == "json") return JobOutputFormat::kJson;
  return InvalidArgument("--format '{}' is not one of human, csv, json", text);
}

namespace {

struct Report {
  std::vector<ColumnarEngine::ResultColumn> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

bool IsYesNoWord(std::string_view v, bool* value) {
  const std::string l = AsciiLower(v);
  if (l == "sim" || l == "yes" || l == "true") {
    *value = true;
    return true;
  }
  if (l == "não" || l == "nao" || l == "no" || l == "false") {
    *value = false;
    return true;
  }
  return false;
}

// Turns yes/no columns into booleans: every non-null value a yes/no word.
void YesNoBooleans(Report& r, size_t first_column) {
  for (size_t c = first_column; c < r.columns.size(); ++c) {
    bool all = true, any = false, b = false;
    for (const auto& row : r.rows) {
      if (!row[c]) continue;
      any = true;
      all = all && IsYesNoWord(*row[c], &b);
    }
    if (!all || !any) continue;
    r.columns[c].kind = ColumnarEngine::ValueKind::kBoolean;
    for (auto& row : r.rows) {
      if (row[c] && IsYesNoWord(*row[c], &b)) row[c] = b ? "true" : "false";
    }
  }
}

}  // namespace

Status WriteJobOutput(const JobSpec& spec, const std::string& lakehouse, const std::map<std::string, std::string>& params,
                      JobOutputFormat format, const std::function<bool(std::string_view)>& sink) {
  ASSIGN_OR_RETURN(auto engine, ColumnarEngine::Open(2, "1GB"));
  ASSIGN_OR_RETURN(auto gold, OpenTable(lakehouse, spec.gold_table));
  RETURN_IF_ERROR(ViewOf(*engine, *gold, "gold"));
  Report all;
  Status st = engine->StreamRows(
      SubstituteParams(spec.output_sql, params), [&](const auto& cols) { all.columns = cols; },
      [&](const std::vector<std::optional<std::string_view>>& v) {
        std::vector<std::optional<std::string>> row;
        for (const auto& x : v) row.emplace_back(x ? std::optional<std::string>(std::string(*x)) : std::nullopt);
        all.rows.push_back(std::move(row));
        return true;
      });
  if (!st.ok()) return InvalidArgument("the [output] SQL: {}", st.message());
  auto index = [&](const std::string& name) -> Result<size_t> {
    for (size_t c = 0; c < all.columns.size(); ++c) {
      if (all.columns[c].name == name) return c;
    }
    return InvalidArgument("[output] names the column '{}', which the output SQL does not return", name);
  };
  // Reports: one per value of split_by (in order of first appearance), or one.
  std::vector<std::string> split_values;
  std::optional<size_t> split;
  if (!spec.split_by.empty()) {
    ASSIGN_OR_RETURN(split, index(spec.split_by));
    for (const auto& row : all.rows) {
      const std::string v = row[*split].value_or("");
      if (std::find(split_values.begin(), split_values.end(), v) == split_values.end()) split_values.push_back(v);
    }
  } else {
    split_values.push_back("");
  }
  std::optional<size_t> key, value, order;
  if (spec.pivot) {
    ASSIGN_OR_RETURN(key, index(spec.pivot->key));
    ASSIGN_OR_RETURN(value, index(spec.pivot->value));
    ASSIGN_OR_RETURN(order, index(spec.pivot->order_by));
  }
  std::vector<Report> reports;
  for (const auto& sv : split_values) {
    Report r;
    std::vector<const std::vector<std::optional<std::string>>*> rows;
    for (const auto& row : all.rows) {
      if (!split || row[*split].value_or("") == sv) rows.push_back(&row);
    }
    if (!spec.pivot) {
      r.columns = all.columns;
      for (const auto* row : rows) r.rows.push_back(*row);
    } else {
      std::vector<size_t> base;
      for (size_t c = 0; c < all.columns.size(); ++c) {
        if (c != *key && c != *value && c != *order) base.push_back(c);
      }
      // Pivot columns in order of their smallest order_by value (then name).
      std::map<std::string, std::string> first;
      for (const auto* row : rows) {
        const std::string k = row->at(*key).value_or(""), ord = row->at(*order).value_or("");
        if (!first.count(k) || ord < first[k]) first[k] = ord;
      }
      std::vector<std::string> keys;
      for (const auto& [k, o] : first) keys.push_back(k);
      std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
        return first[a] != first[b] ? first[a] < first[b] : a < b;
      });
      for (size_t c : base) r.columns.push_back(all.columns[c]);
      for (const auto& k : keys) r.columns.push_back(ColumnarEngine::ResultColumn{k, all.columns[*value].kind, all.columns[*value].is_decimal});
      std::map<std::vector<std::optional<std::string>>, size_t> row_of;
      for (const auto* row : rows) {
        std::vector<std::optional<std::string>> b;
        for (size_t c : base) b.push_back(row->at(c));
        auto [it, fresh] = row_of.emplace(b, r.rows.size());
        if (fresh) {
          b.resize(base.size() + keys.size());
          r.rows.push_back(std::move(b));
        }
        const size_t kc = base.size() + (std::find(keys.begin(), keys.end(), row->at(*key).value_or("")) - keys.begin());
        r.rows[it->second][kc] = row->at(*value);
      }
      if (spec.yes_no_booleans) YesNoBooleans(r, base.size());
    }
    reports.push_back(std::move(r));
  }
  const ResultFormat rf = format == JobOutputFormat::kHuman ? ResultFormat::kHumanPtBr
                          : format == JobOutputFormat::kCsv ? ResultFormat::kCsv
                                                            : ResultFormat::kJson;
  std::vector<std::optional<std::string_view>> v;
  for (size_t i = 0; i < reports.size(); ++i) {
    // Human and CSV reports are separated by a blank line; JSON lines need none.
    if (i > 0 && rf != ResultFormat::kJson && !sink("\n")) return Status::OK();
    auto w = ResultWriter::Make(rf, sink);
    w->Header(reports[i].columns);
    for (const auto& row : reports[i].rows) {
      v.assign(row.begin(), row.end());
      if (!w->Row(v)) return Status::OK();
    }
    w->Finish();
  }
  return Status::OK();
}

}  // namespace lakestream
