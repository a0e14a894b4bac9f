// LakeQueries: the read side of the HTTP API — table state and the dashboard's gold queries — over a
// lakehouse directory, read as any Delta reader would (the current snapshot's active files only), so
// it works next to a running writer or on tables another process wrote (docs/api.md).
//
// Lifecycle: one per server, opened on the lake root; tables appear as the writer creates them.
// Threads: every method is thread-safe (one mutex; DuckDB calls are serialised by ColumnarEngine).
// Answers are cached per query until a table the query reads gets a new version, so many dashboards
// asking the same question cost one query per gold commit.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

/// The dashboard's filters; every field is optional. Dates are order dates (the shop's local date,
/// docs/pipelines/orders.md), inclusive.
struct OrdersFilter {
  std::string from, to;  // "YYYY-MM-DD" or ""
  std::string country;   // canonical country name (silver's), or ""
  std::string product;   // product_no (StockCode), or ""
  int64_t limit = 10;    // top-N: 1..100
};

/// Builds a filter from query parameters. Accepted: from, to, country, product, limit (only those in
/// `allowed`). Errors: InvalidArgument naming the parameter, the value and the rule (unknown
/// parameter, a date that is not YYYY-MM-DD or does not exist, from after to, a country or product
/// of bad characters or length, a limit outside 1..100).
Result<OrdersFilter> ParseOrdersFilter(const std::multimap<std::string, std::string>& params,
                                       const std::vector<std::string>& allowed);

/// One table's state, as in TablesJson.
struct TableState {
  std::string name;
  int64_t version = -1, files = 0, size_bytes = 0, rows = 0;
};

class LakeQueries {
 public:
  /// `lake_root`: the lakehouse directory (it may not exist yet). Errors: Internal when DuckDB fails.
  static Result<std::unique_ptr<LakeQueries>> Open(const std::string& lake_root);

  /// {"tables":[{"name":"bronze/orders","layer","version","files","size_bytes","rows","partition_columns",
  ///  "checkpoint_version","last_commit":{"version","timestamp","operation","operation_metrics"}}]}
  /// for every Delta table under the root, bronze first.
  Result<std::string> TablesJson();
  /// The same, as values (for the /metrics gauges).
  std::vector<TableState> TableStates();
  /// One table, with its latest `history` commits. Errors: NotFound naming the table.
  Result<std::string> TableJson(const std::string& name, int history);
  /// Current version per table name (-1 for none), refreshed at most every 250 ms.
  std::map<std::string, int64_t> Versions();

  /// Orders KPIs: revenue_gbp, net_revenue_gbp, orders, units, avg_order_value_gbp (revenue ÷ orders,
  /// rounded half up to the penny), cancelled_units and cancellation_rate (cancelled units ÷ units sold),
  /// with the gold version read and the order-date range the gold tables hold. Money is an exact
  /// decimal JSON number in GBP. Source: gold/sales_daily, or gold/product_sales_daily with a product.
  Result<std::string> OrdersKpis(const OrdersFilter& f);
  /// [{"date","revenue_gbp","net_revenue_gbp","orders","units"}] by order date, ascending.
  Result<std::string> RevenueByDay(const OrdersFilter& f);
  /// [{"country","revenue_gbp","orders","units"}] by revenue, descending.
  Result<std::string> RevenueByCountry(const OrdersFilter& f);
  /// The top f.limit products by revenue: [{"product_no","product_name","revenue_gbp","units","orders"}].
  Result<std::string> TopProducts(const OrdersFilter& f);
  /// {"countries":[…]} present in gold/sales_daily, sorted.
  Result<std::string> Countries();
  /// {"total","by_rule":[{"rule","records"}],"records":[dlq export objects]}: counts of quarantined
  /// records per rule, and the latest `limit` records (of `rule` when not empty).
  Result<std::string> Quarantine(const std::string& rule, int64_t limit);

 private:
  LakeQueries() = default;
  /// Opens tables that appeared, refreshes all when `force` or 250 ms have passed. Caller holds mu_.
  Status RefreshLocked(bool force);
  DeltaTable* TableLocked(const std::string& name);
  /// A relation (parenthesised SELECT) over the table's active files, pruned to order dates within
  /// [from, to] when the table is partitioned by order_date; an empty relation when the table is missing.
  Result<std::string> RelationLocked(const std::string& name, const OrdersFilter& f);
  /// Runs `compute` unless the cache holds `key` at the current version of `table`.
  template <typename F>
  Result<std::string> Cached(const std::string& key, const std::string& table, F compute);

  std::string root_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<DeltaTable>> tables_;
  int64_t last_refresh_ms_ = 0;
  struct CacheEntry {
    int64_t version;
    std::string json;
  };
  std::map<std::string, CacheEntry> cache_;
  std::map<std::pair<std::string, int64_t>, std::string> last_commit_json_;
};

}  // namespace lakestream
