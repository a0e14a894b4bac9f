#include "app/sql_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

#include "query/lake_sql.h"
#include "query/result_writer.h"

namespace lakestream {

namespace {

struct SqlOptions {
  std::string query;
  std::string lakehouse = "./lakehouse";
  std::string format;  // "" = table on a terminal, csv otherwise
  std::string output;
  int64_t max_rows = -1;
  int64_t timeout_ms = 0;
  bool list_tables = false;
};

SqlOptions& Opts() {
  static SqlOptions o;
  return o;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "lakestream sql: %s\n", st.message().c_str());
  return 1;
}

}  // namespace

CLI::App* AddSqlCommand(CLI::App& app) {
  SqlOptions& o = Opts();
  auto* sql = app.add_subcommand(
      "sql", "Run one read-only SQL statement (DuckDB dialect) over the lakehouse's Delta tables by name: "
             "bronze.orders, silver.orders, gold.sales_daily, …; time travel with table@v12, "
             "table@2024-05-01T10:00:00Z, VERSION AS OF or TIMESTAMP AS OF (docs/sql.md)");
  sql->add_option("query", o.query, "The SQL statement, e.g. \"SELECT count(*) FROM silver.orders\"; - reads it "
                                    "from standard input");
  sql->add_flag("--list-tables", o.list_tables, "Print the lakehouse's table names (layer.table) and exit");
  sql->add_option("--lakehouse,--lake", o.lakehouse, "Root of the lakehouse: a directory or an Azure location (az://…, abfss://…; docs/storage.md) [default ./lakehouse]")->type_name("path");
  sql->add_option("--format", o.format,
                  "table (aligned; the default on a terminal), csv (the default otherwise), json (JSON lines) or "
                  "parquet (needs --output)")
      ->type_name("FORMAT");
  sql->add_option("--output", o.output, "Write the result to this file instead of standard output")
      ->type_name("path");
  sql->add_option("--max-rows", o.max_rows,
                  "Stop after this many rows [default: 1000 for table, no limit otherwise]")
      ->type_name("N");
  sql->add_option("--timeout-ms", o.timeout_ms, "Stop the statement after this many ms [default: no limit]")
      ->type_name("ms");
  return sql;
}

int RunSqlCommand() {
  SqlOptions& o = Opts();
  if (o.list_tables) {
    auto names = ListLakehouseTables(o.lakehouse);
    if (!names.ok()) return Fail(names.status());
    for (const auto& n : *names) std::printf("%s\n", n.c_str());
    return 0;
  }
  if (o.query.empty()) {
    return Fail(InvalidArgument("give the statement: lakestream sql \"SELECT count(*) FROM silver.orders\" (or "
                                "--list-tables for the table names)"));
  }
  if (o.query == "-") {
    o.query.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  const bool to_terminal = o.output.empty() && isatty(STDOUT_FILENO);
  std::string format = o.format.empty() ? (to_terminal ? "table" : "csv") : o.format;
  if (format == "parquet" && o.output.empty()) {
    return Fail(InvalidArgument("--format parquet writes a file: add --output FILE.parquet"));
  }
  ResultFormat rf = ResultFormat::kCsv;
  if (format != "parquet") {
    auto parsed = ParseResultFormat(format);
    if (!parsed.ok()) return Fail(InvalidArgument("--format: {} or parquet", parsed.status().message()));
    rf = *parsed;
  }
  LakeSqlOptions lo;
  lo.lakehouse = o.lakehouse;
  lo.max_rows = o.max_rows >= 0 ? o.max_rows : (rf == ResultFormat::kTable ? 1000 : -1);
  lo.timeout_ms = o.timeout_ms;
  auto q = LakeSqlQuery::Prepare(o.query, lo);
  if (!q.ok()) return Fail(q.status());

  if (format == "parquet") {
    if (Status st = (*q)->WriteParquet(o.output); !st.ok()) return Fail(st);
    std::fprintf(stderr, "wrote %lld rows to %s\n", static_cast<long long>((*q)->rows()), o.output.c_str());
    return 0;
  }
  std::ofstream file;
  if (!o.output.empty()) {
    file.open(o.output, std::ios::binary | std::ios::trunc);
    if (!file) return Fail(IoError("cannot write {}: check the directory exists and is writable", o.output));
  }
  std::ostream& out = o.output.empty() ? std::cout : file;
  auto writer = ResultWriter::Make(rf, [&](std::string_view text) {
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    return static_cast<bool>(out);
  });
  Status st = (*q)->Stream([&](const auto& columns) { writer->Header(columns); },
                           [&](const auto& values) { return writer->Row(values); });
  if (!st.ok()) return Fail(st);
  writer->Finish();
  if (rf == ResultFormat::kTable) {
    const std::string read = (*q)->TablesRead();
    out << "(" << (*q)->rows() << ((*q)->rows() == 1 ? " row" : " rows")
        << ((*q)->truncated() ? fmt::format(", stopped at --max-rows {}", lo.max_rows) : "")
        << (read.empty() ? "" : "; read " + read) << ")\n";
  } else if ((*q)->truncated()) {
    std::fprintf(stderr, "lakestream sql: stopped at --max-rows %lld\n", static_cast<long long>(lo.max_rows));
  }
  out.flush();
  if (!out) return Fail(IoError("writing the result failed (disk full or the reader closed the pipe)"));
  return 0;
}

}  // namespace lakestream
