#include "pipeline/orders_gold.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <set>

#include "common/time.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_writer.h"

namespace lakestream {

namespace {

constexpr const char* kSalesDaily = "gold/sales_daily";
constexpr const char* kSalesHourly = "gold/sales_hourly";
constexpr const char* kProductSales = "gold/product_sales";
constexpr const char* kProductSalesDaily = "gold/product_sales_daily";
constexpr const char* kCustomerRfm = "gold/customer_rfm";
// A gold table records a silver version without rows of its own (silver moved by fences or
// compaction only) once it lags by this many versions, so that refreshes re-read few commits.
constexpr int64_t kFenceEveryVersions = 50;

ColumnSpec Money(const char* name) { return {name, ColumnType::kDecimal, false, 18, 3}; }
ColumnSpec Count(const char* name) { return {name, ColumnType::kInt64, false}; }

// Silver rows with the two classes every gold measure uses (docs/pipelines/orders.md, "Gold"):
// a sale line is a product line (not an adjustment) of a normal transaction with a positive quantity;
// a cancellation line is a product line of a C-prefixed transaction. Other lines (stock write-offs:
// no C prefix, quantity <= 0) are in no gold measure.
std::string Classified(const std::string& silver_sql) {
  return "(SELECT *, (NOT is_cancellation AND NOT is_adjustment AND quantity > 0) AS is_sale, "
         "(is_cancellation AND NOT is_adjustment) AS is_cancel FROM " + silver_sql + " AS silver_rows)";
}

// The sales measures over classified rows, as aggregate expressions named like the gold columns.
const char* kSalesMeasures = R"(
  count(DISTINCT transaction_no) FILTER (WHERE is_sale) AS orders,
  count(*) FILTER (WHERE is_sale) AS order_lines,
  coalesce(sum(quantity) FILTER (WHERE is_sale), 0)::BIGINT AS units,
  coalesce(sum(line_revenue_gbp) FILTER (WHERE is_sale), 0)::DECIMAL(18,3) AS revenue_gbp,
  count(DISTINCT transaction_no) FILTER (WHERE is_cancel) AS cancelled_orders,
  count(*) FILTER (WHERE is_cancel) AS cancellation_lines,
  coalesce(-sum(quantity) FILTER (WHERE is_cancel), 0)::BIGINT AS cancelled_units,
  coalesce(-sum(line_revenue_gbp) FILTER (WHERE is_cancel), 0)::DECIMAL(18,3) AS cancelled_revenue_gbp,
  count(*) FILTER (WHERE is_adjustment) AS adjustment_lines,
  coalesce(sum(line_revenue_gbp) FILTER (WHERE is_adjustment), 0)::DECIMAL(18,3) AS adjustments_gbp,
  count(DISTINCT customer_no) FILTER (WHERE is_sale) AS customers)";

// Net revenue and the average order value (revenue / orders, rounded half up to the penny, in exact
// integer arithmetic on thousandths of a pound: floor((2m + 10o) / 20o) pence).
const char* kNetRevenue = "(revenue_gbp - cancelled_revenue_gbp)::DECIMAL(18,3) AS net_revenue_gbp";
const char* kAverageOrderValue =
    "CASE WHEN orders > 0 THEN ((((revenue_gbp * 1000)::HUGEINT * 2 + 10 * orders) // (20 * orders))::DECIMAL(18,0) "
    "* 0.01::DECIMAL(3,2))::DECIMAL(18,2) END AS avg_order_value_gbp";

std::string SalesDailySql(const std::string& s) {
  return std::string("SELECT order_date, country, orders, order_lines, units, revenue_gbp, cancelled_orders, "
                     "cancellation_lines, cancelled_units, cancelled_revenue_gbp, ") +
         kNetRevenue + ", adjustment_lines, adjustments_gbp, customers, " + kAverageOrderValue +
         " FROM (SELECT order_date, country," + kSalesMeasures + " FROM " + Classified(s) +
         " WHERE order_date IS NOT NULL AND (is_sale OR is_cancel OR is_adjustment) GROUP BY order_date, country)";
}

std::string SalesHourlySql(const std::string& s) {
  return std::string("SELECT event_hour::DATE AS event_date, event_hour, country, orders, order_lines, units, "
                     "revenue_gbp, cancellation_lines, cancelled_revenue_gbp, ") +
         kNetRevenue + ", customers FROM (SELECT date_trunc('hour', event_time) AS event_hour, country," +
         kSalesMeasures + " FROM " + Classified(s) +
         " WHERE event_time IS NOT NULL AND (is_sale OR is_cancel OR is_adjustment) GROUP BY event_hour, country)";
}

std::string ProductSalesSql(const std::string& s) {
  return std::string("SELECT product_no, product_name, orders, order_lines, units, revenue_gbp, cancellation_lines, "
                     "cancelled_units, cancelled_revenue_gbp, ") +
         kNetRevenue +
         ", CASE WHEN units > 0 THEN cancelled_units::DOUBLE / units END AS cancellation_rate, first_sold_at, "
         "last_sold_at FROM (SELECT product_no, "
         "first(product_name ORDER BY event_time DESC, product_name DESC) FILTER (WHERE product_name IS NOT NULL) "
         "AS product_name, " +
         kSalesMeasures +
         ", min(event_time) FILTER (WHERE is_sale) AS first_sold_at, max(event_time) FILTER (WHERE is_sale) AS "
         "last_sold_at FROM " +
         Classified(s) + " WHERE product_no IS NOT NULL AND (is_sale OR is_cancel) GROUP BY product_no)";
}

// Product × day × country: what the dashboard's top products read under its date and country filters.
std::string ProductSalesDailySql(const std::string& s) {
  return std::string("SELECT order_date, country, product_no, product_name, orders, units, revenue_gbp, "
                     "cancellation_lines, cancelled_units, cancelled_revenue_gbp, ") +
         kNetRevenue + " FROM (SELECT order_date, country, product_no, "
         "first(product_name ORDER BY event_time DESC, product_name DESC) FILTER (WHERE product_name IS NOT NULL) "
         "AS product_name, " + kSalesMeasures + " FROM " + Classified(s) +
         " WHERE order_date IS NOT NULL AND product_no IS NOT NULL AND (is_sale OR is_cancel) "
         "GROUP BY order_date, country, product_no)";
}

// Per-customer base measures: customers with at least one sale line.
std::string RfmBaseSql(const std::string& s) {
  return "SELECT customer_no, first(country ORDER BY event_time DESC, country DESC) AS country, "
         "min(order_date) FILTER (WHERE is_sale) AS first_order_date, "
         "max(order_date) FILTER (WHERE is_sale) AS last_order_date, "
         "count(DISTINCT transaction_no) FILTER (WHERE is_sale) AS frequency, "
         "coalesce(sum(line_revenue_gbp) FILTER (WHERE is_sale OR is_cancel), 0)::DECIMAL(18,3) AS monetary_gbp "
         "FROM " + Classified(s) +
         " WHERE customer_no IS NOT NULL AND NOT is_adjustment GROUP BY customer_no "
         "HAVING count(*) FILTER (WHERE is_sale) > 0";
}

// Scores over base rows `b`: recency against the day after the latest order of any customer;
// quintiles by NTILE(5), ties broken by customer_no; segments from the R and F scores.
std::string RfmScoresSql(const std::string& b) {
  return "SELECT customer_no, country, first_order_date, last_order_date, recency_days, frequency, monetary_gbp, "
         "r_score, f_score, m_score, r_score::VARCHAR || f_score::VARCHAR || m_score::VARCHAR AS rfm_score, "
         "CASE WHEN r_score >= 4 AND f_score >= 4 THEN 'Champions' "
         "WHEN r_score >= 3 AND f_score >= 3 THEN 'Loyal' "
         "WHEN r_score >= 4 THEN 'New or promising' "
         "WHEN r_score <= 2 AND f_score >= 4 THEN 'At risk' "
         "WHEN r_score <= 2 AND f_score <= 2 THEN 'Hibernating' "
         "ELSE 'Needs attention' END AS segment, as_of_date FROM ("
         "SELECT *, ntile(5) OVER (ORDER BY recency_days DESC, customer_no)::TINYINT AS r_score, "
         "ntile(5) OVER (ORDER BY frequency, customer_no)::TINYINT AS f_score, "
         "ntile(5) OVER (ORDER BY monetary_gbp, customer_no)::TINYINT AS m_score FROM ("
         "SELECT *, (as_of_date - last_order_date)::INTEGER AS recency_days FROM ("
         "SELECT *, (max(last_order_date) OVER () + 1)::DATE AS as_of_date FROM " + b + " AS base)))";
}

const char* kRfmBaseColumns = "customer_no, country, first_order_date, last_order_date, frequency, monetary_gbp";

enum class Kind { kDatePartitions, kKeyedMerge };
struct Maintenance {
  Kind kind;
  std::string silver_date_expr;  // kDatePartitions: the partition date of a silver row
  std::string prune_column;      // kDatePartitions: silver column whose file statistics bound the date
  std::string key;               // kKeyedMerge: the key column, in silver and gold
};

Maintenance MaintenanceOf(const std::string& name) {
  if (name == kSalesDaily) return {Kind::kDatePartitions, "order_date", "order_date", ""};
  if (name == kSalesHourly) return {Kind::kDatePartitions, "event_time::DATE", "event_time", ""};
  if (name == kProductSales) return {Kind::kKeyedMerge, "", "", "product_no"};
  if (name == kProductSalesDaily) return {Kind::kDatePartitions, "order_date", "order_date", ""};
  return {Kind::kKeyedMerge, "", "", "customer_no"};
}

std::string ReadParquet(const std::vector<std::string>& files) {
  return "read_parquet(" + ColumnarEngine::PathList(files) + ")";
}

// A relation with silver's columns: its files, or no rows.
std::string SilverRelation(const std::vector<std::string>& files) {
  if (!files.empty()) return ReadParquet(files);
  std::string cols;
  for (const auto& c : OrdersSilverColumns()) {
    cols += (cols.empty() ? "" : ", ") + ("NULL::" + c.SqlType() + " AS " + ColumnarEngine::QuoteIdentifier(c.name));
  }
  return "(SELECT " + cols + " WHERE false)";
}

// The [min, max] date ("YYYY-MM-DD") of `column` in a file's statistics, or false when unknown.
// `parser` is reused across files.
bool StatsDateRange(simdjson::dom::parser& parser, const AddFile& f, const std::string& column, std::string* lo,
                    std::string* hi) {
  if (f.stats_json.empty()) return false;
  simdjson::dom::element doc;
  if (parser.parse(f.stats_json).get(doc) != simdjson::SUCCESS) return false;
  std::string_view a, b;
  if (doc["minValues"][column].get(a) != simdjson::SUCCESS || doc["maxValues"][column].get(b) != simdjson::SUCCESS) {
    return false;
  }
  if (a.size() < 10 || b.size() < 10) return false;
  *lo = std::string(a.substr(0, 10));
  *hi = std::string(b.substr(0, 10));
  return true;
}

}  // namespace

const std::vector<ColumnSpec>& OrdersSilverColumns() {
  static const std::vector<ColumnSpec> kColumns = {
      {"event_id", ColumnType::kString, false},
      {"event_time", ColumnType::kTimestampMicros, true},
      {"order_date", ColumnType::kDate, true},
      {"transaction_no", ColumnType::kString, true},
      {"product_no", ColumnType::kString, true},
      {"product_name", ColumnType::kString, true},
      {"quantity", ColumnType::kInt32, true},
      {"unit_price_gbp", ColumnType::kDecimal, true, 12, 3},
      {"line_revenue_gbp", ColumnType::kDecimal, true, 18, 3},
      {"customer_no", ColumnType::kString, true},
      {"country", ColumnType::kString, true},
      {"is_cancellation", ColumnType::kBool, false},
      {"is_adjustment", ColumnType::kBool, false},
      {"kafka_partition", ColumnType::kInt32, false},
      {"kafka_offset", ColumnType::kInt64, false},
      {"bronze_version", ColumnType::kInt64, false},
      {"ingest_time", ColumnType::kTimestampMicros, false},
  };
  return kColumns;
}

const std::vector<GoldTableDef>& OrdersGoldTables() {
  static const std::vector<GoldTableDef> kTables = {
      {kSalesDaily,
       {{"order_date", ColumnType::kDate, false}, {"country", ColumnType::kString, true}, Count("orders"),
        Count("order_lines"), Count("units"), Money("revenue_gbp"), Count("cancelled_orders"),
        Count("cancellation_lines"), Count("cancelled_units"), Money("cancelled_revenue_gbp"),
        Money("net_revenue_gbp"), Count("adjustment_lines"), Money("adjustments_gbp"), Count("customers"),
        {"avg_order_value_gbp", ColumnType::kDecimal, true, 18, 2}},
       {"order_date"}},
      {kSalesHourly,
       {{"event_date", ColumnType::kDate, false}, {"event_hour", ColumnType::kTimestampMicros, false},
        {"country", ColumnType::kString, true}, Count("orders"), Count("order_lines"), Count("units"),
        Money("revenue_gbp"), Count("cancellation_lines"), Money("cancelled_revenue_gbp"), Money("net_revenue_gbp"),
        Count("customers")},
       {"event_date"}},
      {kProductSales,
       {{"product_no", ColumnType::kString, false}, {"product_name", ColumnType::kString, true}, Count("orders"),
        Count("order_lines"), Count("units"), Money("revenue_gbp"), Count("cancellation_lines"),
        Count("cancelled_units"), Money("cancelled_revenue_gbp"), Money("net_revenue_gbp"),
        {"cancellation_rate", ColumnType::kDouble, true}, {"first_sold_at", ColumnType::kTimestampMicros, true},
        {"last_sold_at", ColumnType::kTimestampMicros, true}},
       {}},
      {kProductSalesDaily,
       {{"order_date", ColumnType::kDate, false}, {"country", ColumnType::kString, true},
        {"product_no", ColumnType::kString, false}, {"product_name", ColumnType::kString, true}, Count("orders"),
        Count("units"), Money("revenue_gbp"), Count("cancellation_lines"), Count("cancelled_units"),
        Money("cancelled_revenue_gbp"), Money("net_revenue_gbp")},
       {"order_date"}},
      {kCustomerRfm,
       {{"customer_no", ColumnType::kString, false}, {"country", ColumnType::kString, true},
        {"first_order_date", ColumnType::kDate, false}, {"last_order_date", ColumnType::kDate, false},
        {"recency_days", ColumnType::kInt32, false}, Count("frequency"), Money("monetary_gbp"),
        {"r_score", ColumnType::kInt8, false}, {"f_score", ColumnType::kInt8, false},
        {"m_score", ColumnType::kInt8, false}, {"rfm_score", ColumnType::kString, false},
        {"segment", ColumnType::kString, false}, {"as_of_date", ColumnType::kDate, false}},
       {}},
  };
  return kTables;
}

std::string GoldQueryFromSilver(const GoldTableDef& def, const std::string& s) {
  if (def.name == kSalesDaily) return SalesDailySql(s);
  if (def.name == kSalesHourly) return SalesHourlySql(s);
  if (def.name == kProductSales) return ProductSalesSql(s);
  if (def.name == kProductSalesDaily) return ProductSalesDailySql(s);
  return RfmScoresSql("(" + RfmBaseSql(s) + ")");
}

Result<GoldRefreshResult> RefreshGoldTable(const GoldTableDef& def, DeltaTable& gold, DeltaTable& silver,
                                           ColumnarEngine& engine) {
  GoldRefreshResult out;
  RETURN_IF_ERROR(gold.Refresh());
  const Snapshot& ss = silver.snapshot();
  const int64_t sv = ss.version;
  const int64_t gv = gold.snapshot().TxnVersion(kGoldFromSilverAppId).value_or(-1);
  if (gv >= sv) return out;

  std::vector<std::string> all_files;
  for (const auto& [key, f] : ss.files) all_files.push_back(DataFileLocalPath(silver.storage(), key));
  // The silver files added since gv, when the log still has those commits and the files are active.
  bool full = gv < 0;
  std::vector<std::string> new_files;
  for (int64_t v = gv + 1; !full && v <= sv; ++v) {
    auto c = silver.ReadCommit(v);
    if (!c.ok()) {
      spdlog::info("{}: silver commit {} is unreadable ({}); rebuilding in full", def.name, v, c.status().message());
      full = true;
      break;
    }
    for (const auto& add : c->adds) {
      if (!add.data_change) continue;  // compaction: rows already counted
      std::string key = CanonicalDeltaPath(add.path);
      if (!ss.files.count(key)) {
        full = true;  // rewritten since: recount everything rather than guess
        break;
      }
      new_files.push_back(DataFileLocalPath(silver.storage(), key));
    }
  }
  if (full) new_files = all_files;
  out.full = full;

  Transaction txn;
  txn.operation = "WRITE";
  txn.txns.push_back({kGoldFromSilverAppId, sv, 0});
  const int64_t now_ms = NowMillis();
  const Maintenance m = MaintenanceOf(def.name);
  std::string select;

  if (!full && new_files.empty()) {
    if (sv - gv < kFenceEveryVersions) return out;  // nothing new; re-reading these commits is cheap
  } else if (m.kind == Kind::kDatePartitions) {
    const std::string& pcol = def.partition_columns.at(0);
    std::set<std::string> dates;
    std::vector<std::string> sources;
    if (full) {
      sources = all_files;
    } else {
      ASSIGN_OR_RETURN(QueryResult touched, engine.Query("SELECT DISTINCT (" + m.silver_date_expr + ")::VARCHAR FROM " +
                                                         ReadParquet(new_files) + " WHERE " + m.silver_date_expr +
                                                         " IS NOT NULL"));
      for (const auto& row : touched.rows) dates.insert(row[0].value_or(""));
      // Only the silver files whose statistics can hold a touched date.
      simdjson::dom::parser parser;
      for (const auto& [key, f] : ss.files) {
        std::string lo, hi;
        if (StatsDateRange(parser, f, m.prune_column, &lo, &hi)) {
          auto it = dates.lower_bound(lo);
          if (it == dates.end() || *it > hi) continue;
        }
        sources.push_back(DataFileLocalPath(silver.storage(), key));
      }
    }
    std::string filter;
    for (const auto& d : dates) filter += (filter.empty() ? "" : ", ") + ColumnarEngine::Quote(d) + "::DATE";
    std::string relation = SilverRelation(sources);
    if (!full) relation = "(SELECT * FROM " + relation + " WHERE " + m.silver_date_expr + " IN (" + filter + "))";
    if (full || !dates.empty()) select = GoldQueryFromSilver(def, relation);
    for (const auto& [key, f] : gold.snapshot().files) {
      auto pv = f.partition_values.find(pcol);
      if (full || (pv != f.partition_values.end() && pv->second && dates.count(*pv->second))) {
        txn.removes.push_back(RemoveOf(f, now_ms, true));
      }
    }
    out.keys_rewritten = full ? -1 : static_cast<int64_t>(dates.size());
    txn.operation_parameters_json = R"({"mode":"Overwrite","partitionBy":"[\")" + pcol + R"(\"]"})";
  } else {
    if (full) {
      select = GoldQueryFromSilver(def, SilverRelation(all_files));
    } else {
      const std::string touched =
          "(SELECT DISTINCT " + m.key + " FROM " + ReadParquet(new_files) + " WHERE " + m.key + " IS NOT NULL)";
      const std::string recomputed_from =
          "(SELECT * FROM " + SilverRelation(all_files) + " WHERE " + m.key + " IN " + touched + ")";
      std::vector<std::string> gold_files;
      for (const auto& [key, f] : gold.snapshot().files) gold_files.push_back(DataFileLocalPath(gold.storage(), key));
      const bool is_rfm = def.name == kCustomerRfm;
      std::string carried;
      if (!gold_files.empty()) {
        carried = std::string("SELECT ") + (is_rfm ? kRfmBaseColumns : "*") + " FROM " + ReadParquet(gold_files) +
                  " WHERE " + m.key + " NOT IN " + touched + " UNION ALL ";
      }
      select = is_rfm ? RfmScoresSql("(" + carried + RfmBaseSql(recomputed_from) + ")")
                      : carried + ProductSalesSql(recomputed_from);
      ASSIGN_OR_RETURN(QueryResult n, engine.Query("SELECT count(*) FROM " + touched));
      out.keys_rewritten = std::stoll(n.rows.at(0).at(0).value_or("0"));
    }
    for (const auto& [key, f] : gold.snapshot().files) txn.removes.push_back(RemoveOf(f, now_ms, true));
    txn.operation_parameters_json = R"({"mode":"Overwrite"})";
  }
  if (!select.empty()) {
    ASSIGN_OR_RETURN(txn.adds, WriteDataFiles(engine, gold.storage(), gold.snapshot(), select));
  }
  txn.operation_metrics["silverVersion"] = std::to_string(sv);
  txn.operation_metrics["numRewrittenKeys"] = std::to_string(out.keys_rewritten);
  ASSIGN_OR_RETURN(out.version, gold.Commit(txn));
  return out;
}

}  // namespace lakestream
