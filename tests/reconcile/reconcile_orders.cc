// reconcile_orders: checks that lakestream's orders gold tables equal independent recounts of the
// input CSV, exactly (money to the thousandth of a pound, every row and column):
//   - DuckDB SQL over the CSV (tests/reconcile/gold_from_csv.sql), always;
//   - pandas (tests/reconcile/gold_pandas.py, run by /usr/bin/python3), when --pandas DIR names the
//     directory of CSV files that script wrote.
//
//   reconcile_orders --input data/online-shop/....csv.gz --lakehouse ./lakehouse [--pandas DIR]
//
// Prints one line per gold table and exits 0 when every comparison matches, 1 otherwise (with the
// first differing rows), 2 on bad arguments. Used by the e2e test and documented in
// docs/pipelines/orders.md ("Reconciliation").
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "pipeline/pipeline_spec.h"

using namespace lakestream;

namespace {

std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string Short(const std::string& name) { return name.substr(name.find('/') + 1); }

int64_t Count(ColumnarEngine& e, const std::string& sql) {
  auto r = e.Query("SELECT count(*) FROM (" + sql + ")");
  if (!r.ok()) {
    std::fprintf(stderr, "query failed: %s\n%s\n", r.status().ToString().c_str(), sql.c_str());
    return -1;
  }
  return std::stoll(r->rows[0][0].value_or("-1"));
}

void PrintSample(ColumnarEngine& e, const std::string& sql, const char* label) {
  auto r = e.Query(sql + " LIMIT 3");
  if (!r.ok()) return;
  for (const auto& row : r->rows) {
    std::string line;
    for (const auto& v : row) line += (line.empty() ? "" : " | ") + v.value_or("NULL");
    std::printf("      %s: %s\n", label, line.c_str());
  }
}

// Rows in a and not in b, and in b and not in a (multiset difference both ways).
int64_t Differences(ColumnarEngine& e, const std::string& a, const std::string& b, const char* a_name,
                    const char* b_name) {
  std::string a_only = "SELECT * FROM " + a + " EXCEPT ALL SELECT * FROM " + b;
  std::string b_only = "SELECT * FROM " + b + " EXCEPT ALL SELECT * FROM " + a;
  int64_t n1 = Count(e, a_only), n2 = Count(e, b_only);
  if (n1 != 0) PrintSample(e, a_only, a_name);
  if (n2 != 0) PrintSample(e, b_only, b_name);
  return (n1 < 0 || n2 < 0) ? -1 : n1 + n2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string input, lake, pandas;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--input") input = argv[i + 1];
    else if (k == "--lakehouse") lake = argv[i + 1];
    else if (k == "--pandas") pandas = argv[i + 1];
  }
  if (input.empty() || lake.empty()) {
    std::fprintf(stderr, "usage: reconcile_orders --input CSV --lakehouse DIR [--pandas DIR]\n");
    return 2;
  }
  auto engine_or = ColumnarEngine::Open(2, "4GB");
  if (!engine_or.ok()) return 2;
  ColumnarEngine& e = **engine_or;

  // The CSV in either header dialect, onto the recount's column names.
  auto head = e.Query("SELECT * FROM read_csv(" + ColumnarEngine::Quote(input) + ", header = true, all_varchar = true) LIMIT 0");
  if (!head.ok()) {
    std::fprintf(stderr, "cannot read %s: %s\n", input.c_str(), head.status().ToString().c_str());
    return 2;
  }
  bool uci = false;
  for (const auto& c : head->columns) uci = uci || c.find("InvoiceNo") != std::string::npos;
  // Source columns in the recount's order: transaction_no, date_text, product_no, product_name, price_text,
  // quantity_text, customer_text, country_text.
  static const char* kUci[] = {"InvoiceNo", "InvoiceDate", "StockCode", "Description", "UnitPrice", "Quantity",
                               "CustomerID", "Country"};
  static const char* kKaggle[] = {"TransactionNo", "Date", "ProductNo", "ProductName", "Price", "Quantity",
                                  "CustomerNo", "Country"};
  static const char* kNames[] = {"transaction_no", "date_text", "product_no", "product_name", "price_text",
                                 "quantity_text", "customer_text", "country_text"};
  std::string select;
  for (int i = 0; i < 8; ++i) {
    select += std::string(i ? ", " : "") + ColumnarEngine::QuoteIdentifier(uci ? kUci[i] : kKaggle[i]) + " AS " +
              kNames[i];
  }
  const std::string raw = "CREATE OR REPLACE TEMP VIEW recount_raw AS SELECT " + select + " FROM read_csv(" +
                          ColumnarEngine::Quote(input) + ", header = true, all_varchar = true)";
  if (auto r = e.Query(raw); !r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    return 2;
  }
  std::string script = ReadText(std::string(LAKESTREAM_SOURCE_DIR) + "/tests/reconcile/gold_from_csv.sql");
  size_t pos = 0;
  while (pos < script.size()) {
    size_t end = script.find(";\n", pos);
    std::string stmt = script.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? script.size() : end + 2;
    if (stmt.find("CREATE") == std::string::npos) continue;
    if (auto r = e.Query(stmt); !r.ok()) {
      std::fprintf(stderr, "gold_from_csv.sql: %s\n", r.status().ToString().c_str());
      return 2;
    }
  }
  std::printf("input lines %lld, recounted silver rows %lld\n",
              static_cast<long long>(Count(e, "SELECT * FROM recount_raw")),
              static_cast<long long>(Count(e, "SELECT * FROM recount_silver")));
  std::printf("%-22s %10s %12s %10s %12s %10s\n", "gold table", "lake rows", "duckdb rows", "differ", "pandas rows",
              "differ");
  bool all_equal = true;
  auto orders = DefaultOrdersPipelineSpec();
  if (!orders.ok()) {
    std::fprintf(stderr, "%s\n", orders.status().ToString().c_str());
    return 2;
  }
  for (const auto& def : orders->gold) {
    auto storage = OpenStorage(lake + "/" + def.location, false);
    if (!storage.ok()) {
      std::fprintf(stderr, "%s\n", storage.status().ToString().c_str());
      return 2;
    }
    auto table = DeltaTable::Open(*storage, def.location);
    if (!table.ok()) {
      std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
      return 2;
    }
    auto scan = SnapshotScanSql((*table)->snapshot(), (*table)->storage(), e);
    if (!scan.ok()) {
      std::fprintf(stderr, "%s\n", scan.status().ToString().c_str());
      return 2;
    }
    const std::string lake_rel = "(" + *scan + ")";
    const std::string recount_rel = "recount_" + Short(def.location);
    int64_t lake_rows = Count(e, "SELECT * FROM " + lake_rel);
    int64_t duck_rows = Count(e, "SELECT * FROM " + recount_rel);
    int64_t duck_diff = Differences(e, lake_rel, recount_rel, "lake only", "duckdb only");
    std::string pandas_rows = "-", pandas_diff = "-";
    if (!pandas.empty()) {
      // pandas wrote text; DuckDB types it with the gold table's own column types.
      std::string types;
      for (const auto& c : def.columns) {
        types += (types.empty() ? "" : ", ") + ColumnarEngine::Quote(c.name) + ": " + ColumnarEngine::Quote(c.SqlType());
      }
      std::string rel = "read_csv(" + ColumnarEngine::Quote(pandas + "/" + Short(def.location) + ".csv") +
                        ", header = true, columns = {" + types + "})";
      pandas_rows = std::to_string(Count(e, "SELECT * FROM " + rel));
      int64_t d = Differences(e, lake_rel, rel, "lake only", "pandas only");
      pandas_diff = std::to_string(d);
      all_equal = all_equal && d == 0;
    }
    all_equal = all_equal && duck_diff == 0 && lake_rows == duck_rows;
    std::printf("%-22s %10lld %12lld %10lld %12s %10s\n", def.location.c_str(), static_cast<long long>(lake_rows),
                static_cast<long long>(duck_rows), static_cast<long long>(duck_diff), pandas_rows.c_str(),
                pandas_diff.c_str());
  }
  std::printf(all_equal ? "RECONCILED: every gold table equals the recounts\n" : "MISMATCH\n");
  return all_equal ? 0 : 1;
}
