// LakeQueries: the read side of the HTTP API — table state, the orders dashboard's and the
// notifications panel's gold queries — over a lakehouse directory, read as any Delta reader would (the current snapshot's active files only), so
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
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/data_loss.h"
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

/// Checks that every query parameter is one of `allowed` and given once. Errors: InvalidArgument naming
/// the parameter and the accepted ones, or the repeated one.
Status CheckQueryParameters(const std::multimap<std::string, std::string>& params,
                            const std::vector<std::string>& allowed);

/// Builds a filter from query parameters. Accepted: from, to, country, product, limit (only those in
/// `allowed`). Errors: InvalidArgument naming the parameter, the value and the rule (unknown
/// parameter, a date that is not YYYY-MM-DD or does not exist, from after to, a country or product
/// of bad characters or length, a limit outside 1..100).
Result<OrdersFilter> ParseOrdersFilter(const std::multimap<std::string, std::string>& params,
                                       const std::vector<std::string>& allowed);

/// The notifications panel's parameters (docs/api.md, "Notifications").
struct PanelQuery {
  std::string customer;              // a customer_id, or a customer name (case-insensitive); "" in CustomersJson
  std::string date;                  // "YYYY-MM-DD" (UTC day of event time), or "" for the newest day in the table
  std::string channel = "Whatsapp";  // the channel counted
  int64_t limit = 100;               // customers listed: 1..1000
};

/// Builds a PanelQuery from query parameters (only those in `allowed`: customer, date, channel, limit).
/// Errors: InvalidArgument naming the parameter, the value and the rule (unknown or repeated
/// parameter, a customer of 0 or more than 64 characters or with control characters, a date that is
/// not YYYY-MM-DD, a channel not of 1-32 letters, digits, '-' or '_', a limit outside 1..1000).
Result<PanelQuery> ParsePanelQuery(const std::multimap<std::string, std::string>& params,
                                   const std::vector<std::string>& allowed);

/// One table's state, as in TablesJson.
struct TableState {
  std::string name;
  int64_t version = -1, files = 0, size_bytes = 0, rows = 0;
  std::string error;  // why the table cannot be read (corrupt log, missing file…); empty when it can
  std::vector<DataLossGap> data_loss;  // bronze: the gaps its log records (pipeline/data_loss.h)
};

class LakeQueries {
 public:
  /// `lake_root`: the lakehouse directory (it may not exist yet). Errors: Internal when DuckDB fails.
  static Result<std::unique_ptr<LakeQueries>> Open(const std::string& lake_root);

  /// The lakehouse directory.
  const std::string& root() const { return root_; }

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
  /// records per rule, and the latest `limit` records (of `rule` when not empty), over every
  /// silver/*_quarantine table of the lakehouse (one per pipeline; each record names its topic).
  Result<std::string> Quarantine(const std::string& rule, int64_t limit);

  /// The notifications panel of one customer and day, from gold/notification_usage_minute
  /// (docs/pipelines/notifications.md): {"customer_id","customer_name","channel","date","notifications"
  /// (the day's count of the channel),"last_update" (the newest event counted, ISO 8601 "+00:00", or
  /// null),"last_event_at" (the same with milliseconds),"minutes":[{"minute","notifications"}] (event-time minutes with messages, ascending),
  /// "dates" (every day the table holds, ascending),"panel" (the pt-BR text block "Painel de
  /// Notificações"),"source","version"}. A customer without messages that day gets 0 and nulls.
  /// Errors: InvalidArgument without q.customer; Unavailable while the table has no data.
  Result<std::string> NotificationPanel(const PanelQuery& q);
  /// {"date","channel","customers":[{"customer_id","customer_name","notifications"}],"source","version"}:
  /// the customers with messages of q.channel on q.date (default the newest day), most first, at most
  /// q.limit. Errors: Unavailable while the table has no data.
  Result<std::string> NotificationCustomers(const PanelQuery& q);

 private:
  LakeQueries() = default;
  /// Opens tables that appeared, refreshes all when `force` or 250 ms have passed. Caller holds mu_.
  Status RefreshLocked(bool force);
  DeltaTable* TableLocked(const std::string& name);
  /// A relation (parenthesised SELECT) over the table's active files, pruned to order dates within
  /// [from, to] when the table is partitioned by order_date. Errors: Unavailable when the table is missing.
  Result<std::string> RelationLocked(const std::string& name, const OrdersFilter& f);
  /// The same, pruned to the files whose `partition_column` value lies in [from, to] ("" = open).
  Result<std::string> PrunedRelationLocked(const std::string& name, const std::string& partition_column,
                                           const std::string& from, const std::string& to);
  /// Runs `compute` unless the cache holds `key` at the current versions of `tables`.
  template <typename F>
  Result<std::string> Cached(const std::string& key, const std::vector<std::string>& tables, F compute);
  /// The values of partition column `column` among the table's active files, ascending. Caller holds mu_.
  std::set<std::string> PartitionValuesLocked(const std::string& name, const std::string& column);
  /// The newest value of `column` among the table's partitions ("" when none). Caller holds mu_.
  std::string NewestPartitionLocked(const std::string& name, const std::string& column);

  std::string root_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<DeltaTable>> tables_;
  /// Tables that cannot be read, with the error: listed by TablesJson and /metrics, never left out.
  std::map<std::string, Status> broken_;
  int64_t last_refresh_ms_ = 0;
  struct CacheEntry {
    std::string version;
    std::string json;
  };
  std::map<std::string, CacheEntry> cache_;
  std::map<std::pair<std::string, int64_t>, std::string> last_commit_json_;
};

}  // namespace lakestream
