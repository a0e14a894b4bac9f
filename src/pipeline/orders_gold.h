// The gold tables of the orders pipeline (definitions in docs/pipelines/orders.md), maintained
// incrementally from silver:
//
//   gold/sales_daily     order_date × country     partitioned by order_date
//   gold/sales_hourly    event hour (UTC) × country partitioned by event_date
//   gold/product_sales   product_no
//   gold/product_sales_daily order_date × country × product_no, partitioned by order_date
//   gold/customer_rfm    customer_no, with quintile scores and a segment
//
// A refresh reads the silver commits after the version the gold table reflects (its txn
// "lakestream-orders-gold<-silver"), takes the keys the new silver rows touch (dates, products or
// customers), recomputes only those keys from silver (date tables read only the silver files whose
// statistics can hold the dates), and commits — with the new silver version as its txn — removes
// and adds for exactly those partitions (date tables) or a merged file (product and customer tables,
// whose untouched rows are carried over unchanged). Customer RFM scores are relative to every
// customer, so they are re-ranked over the merged rows on each refresh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

/// The txn appId under which every gold table records the silver version it reflects.
inline constexpr const char* kGoldFromSilverAppId = "lakestream-orders-gold<-silver";

/// One gold table: its name (path under the lake root), columns and partitioning.
struct GoldTableDef {
  std::string name;
  std::vector<ColumnSpec> columns;
  std::vector<std::string> partition_columns;
};

/// The five gold tables, in refresh order.
const std::vector<GoldTableDef>& OrdersGoldTables();

/// The silver/orders columns (the rows the gold SQL reads).
const std::vector<ColumnSpec>& OrdersSilverColumns();

struct GoldRefreshResult {
  int64_t version = -1;      // the gold version committed, -1 when nothing was committed
  bool full = false;         // the whole table was rebuilt (first refresh, or silver history gone)
  int64_t keys_rewritten = 0;  // partitions (date tables) or keys (product, customer) recomputed
};

/// Brings `gold` (one of OrdersGoldTables(), by `def`) up to `silver`'s current snapshot. Does
/// nothing when the gold table already reflects it. Errors: from storage, DuckDB and Delta; Conflict
/// when another writer refreshed the same gold table concurrently (its txn is newer).
Result<GoldRefreshResult> RefreshGoldTable(const GoldTableDef& def, DeltaTable& gold, DeltaTable& silver,
                                           ColumnarEngine& engine);

/// The SELECT that computes table `def` in full from the silver rows in relation `silver_sql`
/// (a parenthesised subquery or table function), columns in table order: the definition, used by
/// the refresh and by tests that recount gold from silver.
std::string GoldQueryFromSilver(const GoldTableDef& def, const std::string& silver_sql);

}  // namespace lakestream
