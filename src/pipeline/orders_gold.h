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
#include "pipeline/gold_refresh.h"

namespace lakestream {

/// The txn appId under which every gold table records the silver version it reflects.
inline constexpr const char* kGoldFromSilverAppId = "lakestream-orders-gold<-silver";

/// The five gold tables, in refresh order.
const std::vector<GoldTableDef>& OrdersGoldTables();

/// The silver/orders columns (the rows the gold SQL reads).
const std::vector<ColumnSpec>& OrdersSilverColumns();

/// How each of the five is maintained (gold_refresh.h): date tables by partition, product_sales and
/// customer_rfm by key (RFM re-ranked over every customer on each refresh).
const std::vector<GoldPlan>& OrdersGoldPlans();

/// The SELECT that computes table `def` in full from the silver rows in relation `silver_sql`
/// (a parenthesised subquery or table function), columns in table order: the definition, used by
/// the refresh and by tests that recount gold from silver.
std::string GoldQueryFromSilver(const GoldTableDef& def, const std::string& silver_sql);

}  // namespace lakestream
