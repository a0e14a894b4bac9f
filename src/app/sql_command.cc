#include "app/sql_command.h"

#include <cstdio>
#include <filesystem>
#include <string>

#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

namespace {

struct SqlOptions {
  std::string query;
  std::string lakehouse = "./lakehouse";
  int64_t max_rows = 1000;
};

SqlOptions& Opts() {
  static SqlOptions o;
  return o;
}

// Number of UTF-8 code points, for alignment.
size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Registers a view <layer>.<name> for every Delta table <lakehouse>/<layer>/<name>/_delta_log.
Status RegisterTables(ColumnarEngine& engine, const std::string& root, std::vector<std::string>* names) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return NotFound("no lakehouse at {}: pass --lakehouse DIR (the directory `lakestream run` wrote)", root);
  }
  for (const auto& layer : fs::directory_iterator(root, ec)) {
    if (!layer.is_directory() || layer.path().filename().string().front() == '_') continue;
    for (const auto& table : fs::directory_iterator(layer.path(), ec)) {
      if (!fs::is_directory(table.path() / "_delta_log")) continue;
      const std::string schema = layer.path().filename().string(), name = table.path().filename().string();
      ASSIGN_OR_RETURN(auto storage, OpenStorage(table.path().string(), false));
      ASSIGN_OR_RETURN(auto t, DeltaTable::Open(storage, schema + "/" + name));
      ASSIGN_OR_RETURN(std::string scan, SnapshotScanSql(t->snapshot(), t->storage(), engine));
      const std::string qs = ColumnarEngine::QuoteIdentifier(schema), qn = ColumnarEngine::QuoteIdentifier(name);
      RETURN_IF_ERROR(engine.Query("CREATE SCHEMA IF NOT EXISTS " + qs).status());
      RETURN_IF_ERROR(engine.Query("CREATE OR REPLACE VIEW " + qs + "." + qn + " AS " + scan).status());
      names->push_back(schema + "." + name);
    }
  }
  return Status::OK();
}

}  // namespace

CLI::App* AddSqlCommand(CLI::App& app) {
  SqlOptions& o = Opts();
  auto* sql = app.add_subcommand(
      "sql", "Run SQL (DuckDB dialect) over the lakehouse's Delta tables by name: bronze.orders, silver.orders, "
             "gold.sales_daily, …");
  sql->add_option("query", o.query, "The SQL statement, e.g. \"SELECT count(*) FROM silver.orders\"")->required();
  sql->add_option("--lakehouse", o.lakehouse, "Root of the lakehouse [default ./lakehouse]")->type_name("path");
  sql->add_option("--max-rows", o.max_rows, "Print at most this many rows [default 1000]")->type_name("N");
  return sql;
}

int RunSqlCommand() {
  SqlOptions& o = Opts();
  auto engine = ColumnarEngine::Open(2, "2GB");
  if (!engine.ok()) {
    std::fprintf(stderr, "lakestream sql: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> names;
  if (Status st = RegisterTables(**engine, o.lakehouse, &names); !st.ok()) {
    std::fprintf(stderr, "lakestream sql: %s\n", st.ToString().c_str());
    return 1;
  }
  auto r = (*engine)->Query(o.query);
  if (!r.ok()) {
    std::string tables;
    for (const auto& n : names) tables += (tables.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "lakestream sql: %s\n  tables: %s\n", r.status().message().c_str(), tables.c_str());
    return 1;
  }
  // An aligned table, values as DuckDB prints them, NULL for null.
  std::vector<size_t> width(r->columns.size());
  for (size_t c = 0; c < r->columns.size(); ++c) width[c] = DisplayWidth(r->columns[c]);
  const size_t shown = std::min<size_t>(r->rows.size(), static_cast<size_t>(std::max<int64_t>(0, o.max_rows)));
  for (size_t i = 0; i < shown; ++i) {
    for (size_t c = 0; c < r->columns.size(); ++c) width[c] = std::max(width[c], DisplayWidth(r->rows[i][c].value_or("NULL")));
  }
  auto print_row = [&](const std::vector<std::string>& v) {
    std::string line;
    for (size_t c = 0; c < v.size(); ++c) {
      line += (c ? " | " : "") + v[c] + std::string(width[c] - DisplayWidth(v[c]), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  };
  print_row(r->columns);
  std::string rule;
  for (size_t c = 0; c < width.size(); ++c) rule += (c ? "-+-" : "") + std::string(width[c], '-');
  std::printf("%s\n", rule.c_str());
  for (size_t i = 0; i < shown; ++i) {
    std::vector<std::string> v;
    for (const auto& x : r->rows[i]) v.push_back(x.value_or("NULL"));
    print_row(v);
  }
  std::printf("(%zu row%s%s)\n", r->rows.size(), r->rows.size() == 1 ? "" : "s",
              shown < r->rows.size() ? fmt::format(", {} shown", shown).c_str() : "");
  return 0;
}

}  // namespace lakestream
