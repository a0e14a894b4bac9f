#include "pipeline/orders_gold.h"


namespace lakestream {

namespace {

constexpr const char* kSalesDaily = "gold/sales_daily";
constexpr const char* kSalesHourly = "gold/sales_hourly";
constexpr const char* kProductSales = "gold/product_sales";
constexpr const char* kProductSalesDaily = "gold/product_sales_daily";
constexpr const char* kCustomerRfm = "gold/customer_rfm";

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


const std::vector<GoldPlan>& OrdersGoldPlans() {
  static const std::vector<GoldPlan> kPlans = [] {
    std::vector<GoldPlan> plans;
    for (const auto& def : OrdersGoldTables()) {
      GoldPlan p;
      p.def = def;
      p.silver_columns = OrdersSilverColumns();
      p.app_id = kGoldFromSilverAppId;
      p.query = [def](const std::string& s) { return GoldQueryFromSilver(def, s); };
      if (def.name == kSalesDaily || def.name == kProductSalesDaily) {
        p.kind = GoldPlan::Kind::kDatePartitions;
        p.silver_date_expr = p.prune_column = "order_date";
      } else if (def.name == kSalesHourly) {
        p.kind = GoldPlan::Kind::kDatePartitions;
        p.silver_date_expr = "event_time::DATE";
        p.prune_column = "event_time";
      } else if (def.name == kProductSales) {
        p.kind = GoldPlan::Kind::kKeyedMerge;
        p.key = "product_no";
        p.merge = [](const std::string& carried, const std::string& recomputed) {
          return (carried.empty() ? "" : "SELECT * FROM " + carried + " UNION ALL ") + ProductSalesSql(recomputed);
        };
      } else {
        // RFM scores are relative to every customer: re-rank the merged base rows.
        p.kind = GoldPlan::Kind::kKeyedMerge;
        p.key = "customer_no";
        p.merge = [](const std::string& carried, const std::string& recomputed) {
          std::string base = carried.empty() ? "" : std::string("SELECT ") + kRfmBaseColumns + " FROM " + carried +
                                                        " UNION ALL ";
          return RfmScoresSql("(" + base + RfmBaseSql(recomputed) + ")");
        };
      }
      plans.push_back(std::move(p));
    }
    return plans;
  }();
  return kPlans;
}

}  // namespace lakestream
