#include "serve/lake_queries.h"

#include <chrono>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "common/json_writer.h"
#include "common/time.h"
#include "lake/delta/delta_scan.h"
#include "pipeline/dead_letters.h"
#include "query/lake_sql.h"

namespace lakestream {

namespace {

constexpr const char* kSalesDaily = "gold/sales_daily";
constexpr const char* kProductSalesDaily = "gold/product_sales_daily";
constexpr const char* kUsageMinute = "gold/notification_usage_minute";
constexpr int64_t kRefreshEveryMs = 250;
constexpr size_t kMaxCacheEntries = 512;

bool ValidDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const std::chrono::year_month_day d{std::chrono::year(std::stoi(s.substr(0, 4))),
                                      std::chrono::month(static_cast<unsigned>(std::stoi(s.substr(5, 2)))),
                                      std::chrono::day(static_cast<unsigned>(std::stoi(s.substr(8, 2))))};
  return d.ok();
}

bool ValidCountry(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    bool ok = std::isalnum(c) || c >= 0x80 || c == ' ' || c == '.' || c == '-' || c == '\'' || c == '&' || c == '(' ||
              c == ')';
    if (!ok) return false;
  }
  return true;
}

bool ValidProduct(const std::string& s) {
  if (s.empty() || s.size() > 20) return false;
  for (unsigned char c : s) {
    if (!std::isalnum(c)) return false;
  }
  return true;
}

std::string Where(const OrdersFilter& f, bool with_product) {
  std::vector<std::string> c;
  if (!f.from.empty()) c.push_back("order_date >= DATE " + ColumnarEngine::Quote(f.from));
  if (!f.to.empty()) c.push_back("order_date <= DATE " + ColumnarEngine::Quote(f.to));
  if (!f.country.empty()) c.push_back("country = " + ColumnarEngine::Quote(f.country));
  if (with_product && !f.product.empty()) c.push_back("product_no = " + ColumnarEngine::Quote(f.product));
  std::string out;
  for (const auto& x : c) out += (out.empty() ? " WHERE " : " AND ") + x;
  return out;
}

// The members every commit summary carries (tables list and table history): version, timestamp,
// operation and the number of adds and removes, written into an open object.
void WriteCommitSummary(JsonWriter& w, int64_t version, const CommitActions& c) {
  w.Key("version").Int(version);
  w.Key("timestamp").String(c.timestamp_ms ? FormatTimestampIso(c.timestamp_ms * 1000) : "");
  w.Key("operation").String(c.operation);
  w.Key("adds").Int(static_cast<int64_t>(c.adds.size())).Key("removes").Int(static_cast<int64_t>(c.removes.size()));
}

std::string FilterKey(const OrdersFilter& f) {
  return f.from + "|" + f.to + "|" + f.country + "|" + f.product + "|" + std::to_string(f.limit);
}

// Columns of a result as JSON objects; `numeric` columns are written as numbers (DuckDB's exact text).
std::string RowsJson(const QueryResult& r, const std::set<std::string>& numeric) {
  JsonWriter w;
  w.BeginArray();
  for (const auto& row : r.rows) {
    w.BeginObject();
    for (size_t i = 0; i < r.columns.size(); ++i) {
      w.Key(r.columns[i]);
      if (!row[i]) {
        w.Null();
      } else if (numeric.count(r.columns[i])) {
        w.Raw(*row[i]);
      } else {
        w.String(*row[i]);
      }
    }
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

// An unknown or repeated query parameter: InvalidArgument naming it and the accepted ones.
Status CheckParameter(const std::string& k, const std::vector<std::string>& allowed, std::set<std::string>& seen) {
  if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return InvalidArgument("unknown query parameter '{}': this endpoint accepts {}", k,
                           list.empty() ? std::string("none") : list);
  }
  if (!seen.insert(k).second) return InvalidArgument("query parameter '{}' is given twice: give it once", k);
  return Status::OK();
}

}  // namespace

Status CheckQueryParameters(const std::multimap<std::string, std::string>& params,
                            const std::vector<std::string>& allowed) {
  std::set<std::string> seen;
  for (const auto& [k, v] : params) RETURN_IF_ERROR(CheckParameter(k, allowed, seen));
  return Status::OK();
}

Result<OrdersFilter> ParseOrdersFilter(const std::multimap<std::string, std::string>& params,
                                       const std::vector<std::string>& allowed) {
  OrdersFilter f;
  std::set<std::string> seen;
  for (const auto& [k, v] : params) {
    RETURN_IF_ERROR(CheckParameter(k, allowed, seen));
    if (k == "from" || k == "to") {
      if (!ValidDate(v)) {
        return InvalidArgument("query parameter '{}'='{}' is not a date: write YYYY-MM-DD, e.g. 2011-12-01", k, v);
      }
      (k == "from" ? f.from : f.to) = v;
    } else if (k == "country") {
      if (!ValidCountry(v)) {
        return InvalidArgument("query parameter 'country' is not a country name (1-64 letters, spaces, . - ' & ( )): "
                               "e.g. country=United%20Kingdom");
      }
      f.country = v;
    } else if (k == "product") {
      if (!ValidProduct(v)) {
        return InvalidArgument("query parameter 'product'='{}' is not a product number (1-20 letters or digits, the "
                               "StockCode): e.g. product=85123A", v.substr(0, 40));
      }
      f.product = v;
    } else if (k == "limit") {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 100) {
        return InvalidArgument("query parameter 'limit'='{}' must be an integer from 1 to 100", v.substr(0, 40));
      }
      f.limit = n;
    }
  }
  if (!f.from.empty() && !f.to.empty() && f.from > f.to) {
    return InvalidArgument("query parameter 'from' ({}) is after 'to' ({}): the range is inclusive and from <= to",
                           f.from, f.to);
  }
  return f;
}

Result<PanelQuery> ParsePanelQuery(const std::multimap<std::string, std::string>& params,
                                   const std::vector<std::string>& allowed) {
  PanelQuery q;
  std::set<std::string> seen;
  for (const auto& [k, v] : params) {
    RETURN_IF_ERROR(CheckParameter(k, allowed, seen));
    if (k == "customer") {
      bool ok = !v.empty() && v.size() <= 64;
      for (unsigned char c : v) ok = ok && c >= 0x20 && c != 0x7f;
      if (!ok) {
        return InvalidArgument("query parameter 'customer' must be a customer_id or a customer name of 1-64 "
                               "printable characters, e.g. customer=7494212 or customer=Acme");
      }
      q.customer = v;
    } else if (k == "date") {
      if (!ValidDate(v)) {
        return InvalidArgument("query parameter 'date'='{}' is not a date: write YYYY-MM-DD, e.g. 2020-02-03",
                               v.substr(0, 40));
      }
      q.date = v;
    } else if (k == "channel") {
      bool ok = !v.empty() && v.size() <= 32;
      for (unsigned char c : v) ok = ok && (std::isalnum(c) || c == '-' || c == '_');
      if (!ok) {
        return InvalidArgument("query parameter 'channel' must be 1-32 letters, digits, '-' or '_', e.g. "
                               "channel=Whatsapp");
      }
      q.channel = v;
    } else if (k == "limit") {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 1000) {
        return InvalidArgument("query parameter 'limit'='{}' must be an integer from 1 to 1000", v.substr(0, 40));
      }
      q.limit = n;
    }
  }
  return q;
}

Result<std::unique_ptr<LakeQueries>> LakeQueries::Open(const std::string& lake_root) {
  std::unique_ptr<LakeQueries> q(new LakeQueries());
  q->root_ = lake_root;
  ASSIGN_OR_RETURN(q->engine_, ColumnarEngine::Open(1, "512MB"));
  return q;
}

Status LakeQueries::RefreshLocked(bool force) {
  const int64_t now = MonotonicMillis();
  if (!force && now - last_refresh_ms_ < kRefreshEveryMs) return Status::OK();
  last_refresh_ms_ = now;
  // A lakehouse not written yet lists nothing: tables appear as the writer creates them.
  auto names = ListLakehouseTables(root_);
  for (const std::string& dotted : names.ok() ? *names : std::vector<std::string>{}) {
    std::string name = dotted;
    name[name.find('.')] = '/';  // "silver.orders" -> "silver/orders"
    if (tables_.count(name)) continue;
    ASSIGN_OR_RETURN(auto storage, OpenStorage(JoinLocation(root_, name), false));
    auto t = DeltaTable::OpenExisting(storage, name);
    if (!t.ok()) {
      // No commit yet: being created, tried again on the next refresh. Anything else (a corrupt or
      // unreadable log) is shown with its error, never left out without a word.
      if (t.status().code() != StatusCode::kNotFound) broken_[name] = t.status();
      continue;
    }
    broken_.erase(name);
    tables_[name] = std::move(t).value();
  }
  for (auto it = tables_.begin(); it != tables_.end();) {
    Status st = it->second->Refresh();
    if (st.ok()) {
      ++it;
      continue;
    }
    spdlog::error("{}: {}", it->first, st.ToString());
    broken_[it->first] = st;
    it = tables_.erase(it);  // reopened from scratch once it can be read again
  }
  return Status::OK();
}

DeltaTable* LakeQueries::TableLocked(const std::string& name) {
  auto it = tables_.find(name);
  return it == tables_.end() || it->second->snapshot().version < 0 ? nullptr : it->second.get();
}

std::map<std::string, int64_t> LakeQueries::Versions() {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, int64_t> out;
  if (!RefreshLocked(false).ok()) return out;
  for (const auto& [name, t] : tables_) out[name] = t->snapshot().version;
  return out;
}

Result<std::string> LakeQueries::RelationLocked(const std::string& name, const OrdersFilter& f) {
  return PrunedRelationLocked(name, "order_date", f.from, f.to);
}

Result<std::string> LakeQueries::PrunedRelationLocked(const std::string& name, const std::string& partition_column,
                                                      const std::string& from, const std::string& to) {
  DeltaTable* t = TableLocked(name);
  if (!t || t->snapshot().files.empty()) {
    return Unavailable("table {} has no data yet under {}: start `lakestream run` (or ingest) on this lakehouse",
                       name, root_);
  }
  ScanOptions opts;
  const auto& pc = t->snapshot().partition_columns();
  if (std::find(pc.begin(), pc.end(), partition_column) != pc.end() && (!from.empty() || !to.empty())) {
    for (const auto& [key, file] : t->snapshot().files) {
      auto it = file.partition_values.find(partition_column);
      const std::string d = it != file.partition_values.end() && it->second ? *it->second : "";
      if ((!from.empty() && !d.empty() && d < from) || (!to.empty() && !d.empty() && d > to)) continue;
      opts.only_files.push_back(key);
    }
    if (opts.only_files.empty()) {  // no file in range: the table's columns, no rows
      ASSIGN_OR_RETURN(std::string all, SnapshotScanSql(t->snapshot(), t->storage(), *engine_));
      return "(SELECT * FROM (" + all + ") WHERE false)";
    }
  }
  ASSIGN_OR_RETURN(std::string scan, SnapshotScanSql(t->snapshot(), t->storage(), *engine_, opts));
  return "(" + scan + ")";
}

std::set<std::string> LakeQueries::PartitionValuesLocked(const std::string& name, const std::string& column) {
  std::set<std::string> values;
  DeltaTable* t = TableLocked(name);
  if (!t) return values;
  for (const auto& [key, file] : t->snapshot().files) {
    auto it = file.partition_values.find(column);
    if (it != file.partition_values.end() && it->second) values.insert(*it->second);
  }
  return values;
}

std::string LakeQueries::NewestPartitionLocked(const std::string& name, const std::string& column) {
  const std::set<std::string> values = PartitionValuesLocked(name, column);
  return values.empty() ? "" : *values.rbegin();
}

template <typename F>
Result<std::string> LakeQueries::Cached(const std::string& key, const std::vector<std::string>& tables, F compute) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(RefreshLocked(false));
  std::string version;
  for (const auto& table : tables) {
    DeltaTable* t = TableLocked(table);
    version += std::to_string(t ? t->snapshot().version : -1) + ",";
  }
  auto it = cache_.find(key);
  if (it != cache_.end() && it->second.version == version) return it->second.json;
  ASSIGN_OR_RETURN(std::string json, compute());
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_[key] = {version, json};
  return json;
}

Result<std::string> LakeQueries::OrdersKpis(const OrdersFilter& f) {
  const std::string table = f.product.empty() ? kSalesDaily : kProductSalesDaily;
  return Cached("kpis|" + FilterKey(f), {table}, [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string rel, RelationLocked(table, f));
    ASSIGN_OR_RETURN(std::string all, RelationLocked(kSalesDaily, {}));
    const std::string sql =
        "WITH t AS (SELECT coalesce(sum(revenue_gbp), 0)::DECIMAL(18,3) AS revenue_gbp, "
        "coalesce(sum(net_revenue_gbp), 0)::DECIMAL(18,3) AS net_revenue_gbp, coalesce(sum(orders), 0)::BIGINT AS orders, "
        "coalesce(sum(units), 0)::BIGINT AS units, coalesce(sum(cancelled_units), 0)::BIGINT AS cancelled_units FROM " +
        rel + Where(f, true) + ") SELECT revenue_gbp, net_revenue_gbp, orders, units, "
        "CASE WHEN orders > 0 THEN ((((revenue_gbp * 1000)::HUGEINT * 2 + 10 * orders) // (20 * orders))::DECIMAL(18,0) "
        "* 0.01::DECIMAL(3,2))::DECIMAL(18,2) END AS avg_order_value_gbp, cancelled_units, "
        "CASE WHEN units > 0 THEN round(cancelled_units / units, 6) END AS cancellation_rate, "
        "(SELECT min(order_date)::VARCHAR FROM " + all + ") AS first_date, "
        "(SELECT max(order_date)::VARCHAR FROM " + all + ") AS last_date FROM t";
    ASSIGN_OR_RETURN(auto r, engine_->Query(sql));
    JsonWriter w;
    w.BeginObject().Key("currency").String("GBP");
    for (size_t i = 0; i < r.columns.size(); ++i) {
      w.Key(r.columns[i]);
      const auto& v = r.rows.at(0)[i];
      if (!v) w.Null();
      else if (r.columns[i].find("date") != std::string::npos) w.String(*v);
      else w.Raw(*v);
    }
    DeltaTable* t = TableLocked(table);
    w.Key("source").String(table).Key("version").Int(t ? t->snapshot().version : -1);
    w.Key("filter").BeginObject().Key("from").String(f.from).Key("to").String(f.to).Key("country").String(f.country);
    w.Key("product").String(f.product).EndObject();
    w.EndObject();
    return w.Take();
  });
}

Result<std::string> LakeQueries::RevenueByDay(const OrdersFilter& f) {
  const std::string table = f.product.empty() ? kSalesDaily : kProductSalesDaily;
  return Cached("by_day|" + FilterKey(f), {table}, [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string rel, RelationLocked(table, f));
    ASSIGN_OR_RETURN(auto r, engine_->Query(
                                 "SELECT order_date::VARCHAR AS date, sum(revenue_gbp)::DECIMAL(18,3) AS revenue_gbp, "
                                 "sum(net_revenue_gbp)::DECIMAL(18,3) AS net_revenue_gbp, sum(orders)::BIGINT AS orders, "
                                 "sum(units)::BIGINT AS units FROM " + rel + Where(f, true) +
                                 " GROUP BY order_date ORDER BY order_date"));
    return "{\"currency\":\"GBP\",\"days\":" + RowsJson(r, {"revenue_gbp", "net_revenue_gbp", "orders", "units"}) + "}";
  });
}

Result<std::string> LakeQueries::RevenueByCountry(const OrdersFilter& f) {
  const std::string table = f.product.empty() ? kSalesDaily : kProductSalesDaily;
  return Cached("by_country|" + FilterKey(f), {table}, [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string rel, RelationLocked(table, f));
    ASSIGN_OR_RETURN(auto r, engine_->Query("SELECT coalesce(country, 'Unknown') AS country, "
                                            "sum(revenue_gbp)::DECIMAL(18,3) AS revenue_gbp, sum(orders)::BIGINT AS "
                                            "orders, sum(units)::BIGINT AS units FROM " + rel + Where(f, true) +
                                            " GROUP BY 1 ORDER BY revenue_gbp DESC, country LIMIT " +
                                            std::to_string(std::max<int64_t>(f.limit, 1))));
    return "{\"currency\":\"GBP\",\"countries\":" + RowsJson(r, {"revenue_gbp", "orders", "units"}) + "}";
  });
}

Result<std::string> LakeQueries::TopProducts(const OrdersFilter& f) {
  return Cached("top_products|" + FilterKey(f), {kProductSalesDaily}, [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string rel, RelationLocked(kProductSalesDaily, f));
    ASSIGN_OR_RETURN(auto r, engine_->Query(
                                 "SELECT product_no, arg_max(product_name, order_date) AS product_name, "
                                 "sum(revenue_gbp)::DECIMAL(18,3) AS revenue_gbp, sum(units)::BIGINT AS units, "
                                 "sum(orders)::BIGINT AS orders FROM " + rel + Where(f, true) +
                                 " GROUP BY product_no ORDER BY revenue_gbp DESC, product_no LIMIT " +
                                 std::to_string(f.limit)));
    return "{\"currency\":\"GBP\",\"products\":" + RowsJson(r, {"revenue_gbp", "units", "orders"}) + "}";
  });
}

Result<std::string> LakeQueries::Countries() {
  return Cached("countries", {kSalesDaily}, [&]() -> Result<std::string> {
    ASSIGN_OR_RETURN(std::string rel, RelationLocked(kSalesDaily, {}));
    JsonWriter w;
    w.BeginObject().Key("countries").BeginArray();
    RETURN_IF_ERROR(engine_->ForEachRow(
        "SELECT DISTINCT country FROM " + rel + " WHERE country IS NOT NULL ORDER BY 1",
        [&](const std::vector<std::optional<std::string_view>>& row) { w.String(*row[0]); }));
    w.EndArray().EndObject();
    return w.Take();
  });
}

Result<std::string> LakeQueries::Quarantine(const std::string& rule, int64_t limit) {
  std::vector<std::string> tables;  // every pipeline's quarantine table that holds data
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(RefreshLocked(false));
    const std::string suffix = "_quarantine";
    for (const auto& [name, t] : tables_) {
      if (name.rfind("silver/", 0) == 0 && name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 && TableLocked(name) &&
          !t->snapshot().files.empty()) {
        tables.push_back(name);
      }
    }
  }
  std::string key = "quarantine|" + rule + "|" + std::to_string(limit);
  for (const auto& t : tables) key += "|" + t;
  return Cached(key, tables, [&]() -> Result<std::string> {
    JsonWriter w;
    w.BeginObject();
    if (tables.empty()) {
      w.Key("total").Int(0).Key("by_rule").BeginArray().EndArray().Key("records").BeginArray().EndArray().EndObject();
      return w.Take();
    }
    std::string rel;
    for (const auto& table : tables) {
      ASSIGN_OR_RETURN(std::string r, RelationLocked(table, {}));
      rel += (rel.empty() ? "(SELECT * FROM " : " UNION ALL BY NAME SELECT * FROM ") + r;
    }
    rel += ")";
    ASSIGN_OR_RETURN(auto total, engine_->Query("SELECT count(*) FROM " + rel));
    w.Key("total").Raw(total.rows.at(0)[0].value_or("0"));
    ASSIGN_OR_RETURN(auto by_rule, engine_->Query("SELECT rule, count(*) AS records FROM (SELECT unnest(string_split("
                                                  "failed_rules, ',')) AS rule FROM " + rel +
                                                  ") GROUP BY rule ORDER BY records DESC, rule"));
    w.Key("by_rule").Raw(RowsJson(by_rule, {"records"}));
    const std::string where =
        rule.empty() ? "" : " WHERE list_contains(string_split(failed_rules, ','), " + ColumnarEngine::Quote(rule) + ")";
    w.Key("records").BeginArray();
    RETURN_IF_ERROR(engine_->ForEachRow(
        "SELECT payload, event_id, failed_rules, reason, topic, kafka_partition::VARCHAR, kafka_offset::VARCHAR, "
        "strftime(quarantined_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') FROM " + rel + where +
        " ORDER BY quarantined_at DESC, kafka_partition, kafka_offset DESC LIMIT " + std::to_string(limit),
        [&](const std::vector<std::optional<std::string_view>>& row) {
          QuarantinedRecord q;
          q.payload = std::string(row[0].value_or(""));
          if (row[1]) q.event_id = std::string(*row[1]);
          q.failed_rules = std::string(row[2].value_or(""));
          q.reason = std::string(row[3].value_or(""));
          q.topic = std::string(row[4].value_or(""));
          q.partition = row[5] ? std::stoi(std::string(*row[5])) : -1;
          q.offset = row[6] ? std::stoll(std::string(*row[6])) : -1;
          q.quarantined_at = std::string(row[7].value_or(""));
          w.Raw(QuarantinedRecordJson(q));
        }));
    w.EndArray().EndObject();
    return w.Take();
  });
}

Result<std::string> LakeQueries::NotificationPanel(const PanelQuery& q) {
  if (q.customer.empty()) {
    return InvalidArgument("query parameter 'customer' is required: a customer_id or name, e.g. customer=Acme "
                           "(GET /api/v1/notifications/customers lists them)");
  }
  const std::string key = "panel|" + q.customer + "|" + q.date + "|" + q.channel;
  return Cached(key, {kUsageMinute}, [&]() -> Result<std::string> {
    const std::string date = q.date.empty() ? NewestPartitionLocked(kUsageMinute, "event_date") : q.date;
    ASSIGN_OR_RETURN(std::string rel, PrunedRelationLocked(kUsageMinute, "event_date", date, date));
    const std::string c = ColumnarEngine::Quote(q.customer);
    const std::string where = " WHERE event_date = " + ColumnarEngine::Quote(date) + "::DATE AND channel = " +
                              ColumnarEngine::Quote(q.channel) + " AND (customer_id = " + c +
                              " OR lower(customer_name) = lower(" + c + "))";
    // One customer: the id with the most messages among those matching (a name may be shared).
    ASSIGN_OR_RETURN(auto who, engine_->Query("SELECT customer_id, max(customer_name) AS customer_name, "
                                              "sum(notifications)::BIGINT AS notifications, strftime(max(last_event_at) "
                                              "AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') || '+00:00' AS last_update, "
                                              "strftime(max(last_event_at) AT TIME ZONE 'UTC', "
                                              "'%Y-%m-%dT%H:%M:%S.%g') || '+00:00' AS last_event_at FROM " +
                                              rel + where + " GROUP BY customer_id ORDER BY notifications DESC, "
                                              "customer_id LIMIT 1"));
    std::optional<std::string> id, name, last, last_ms;
    std::string count = "0";
    if (!who.rows.empty()) {
      id = who.rows[0][0];
      name = who.rows[0][1];
      count = who.rows[0][2].value_or("0");
      last = who.rows[0][3];
      last_ms = who.rows[0][4];
    }
    JsonWriter w;
    w.BeginObject().Key("customer_id");
    if (id) w.String(*id);
    else w.Null();
    w.Key("customer_name");
    if (name) w.String(*name);
    else w.Null();
    w.Key("channel").String(q.channel).Key("date").String(date).Key("notifications").Raw(count);
    w.Key("last_update");
    if (last) w.String(*last);
    else w.Null();
    w.Key("last_event_at");
    if (last_ms) w.String(*last_ms);
    else w.Null();
    w.Key("minutes").BeginArray();
    if (id) {
      RETURN_IF_ERROR(engine_->ForEachRow(
          "SELECT strftime(minute AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') || '+00:00', sum(notifications)::VARCHAR "
          "FROM " + rel + " WHERE event_date = " + ColumnarEngine::Quote(date) + "::DATE AND channel = " +
          ColumnarEngine::Quote(q.channel) + " AND customer_id = " + ColumnarEngine::Quote(*id) +
          " GROUP BY minute ORDER BY minute",
          [&](const std::vector<std::optional<std::string_view>>& row) {
            w.BeginObject().Key("minute").String(*row[0]).Key("notifications").Raw(*row[1]).EndObject();
          }));
    }
    w.EndArray().Key("dates").BeginArray();
    for (const auto& d : PartitionValuesLocked(kUsageMinute, "event_date")) w.String(d);
    w.EndArray();
    // The panel as text, in the layout of docs/pipelines/notifications.md.
    w.Key("panel").String("Painel de Notificações\nCliente: " + name.value_or(id.value_or(q.customer)) +
                          "\nNotificações " + q.channel + ": " + count + "\nÚltima atualização: " + last.value_or("–") +
                          "\n");
    w.Key("source").String(kUsageMinute).Key("version").Int(TableLocked(kUsageMinute)->snapshot().version);
    w.EndObject();
    return w.Take();
  });
}

Result<std::string> LakeQueries::NotificationCustomers(const PanelQuery& q) {
  const std::string key = "customers|" + q.date + "|" + q.channel + "|" + std::to_string(q.limit);
  return Cached(key, {kUsageMinute}, [&]() -> Result<std::string> {
    const std::string date = q.date.empty() ? NewestPartitionLocked(kUsageMinute, "event_date") : q.date;
    ASSIGN_OR_RETURN(std::string rel, PrunedRelationLocked(kUsageMinute, "event_date", date, date));
    ASSIGN_OR_RETURN(auto r, engine_->Query("SELECT customer_id, max(customer_name) AS customer_name, "
                                            "sum(notifications)::BIGINT AS notifications FROM " + rel +
                                            " WHERE event_date = " + ColumnarEngine::Quote(date) + "::DATE AND "
                                            "channel = " + ColumnarEngine::Quote(q.channel) +
                                            " GROUP BY customer_id ORDER BY notifications DESC, customer_id LIMIT " +
                                            std::to_string(q.limit)));
    JsonWriter w;
    w.BeginObject().Key("date").String(date).Key("channel").String(q.channel);
    w.Key("customers").Raw(RowsJson(r, {"notifications"}));
    w.Key("source").String(kUsageMinute).Key("version").Int(TableLocked(kUsageMinute)->snapshot().version);
    w.EndObject();
    return w.Take();
  });
}

Result<std::string> LakeQueries::TablesJson() {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(RefreshLocked(false));
  std::vector<std::string> names;
  for (const auto& [name, t] : tables_) names.push_back(name);
  for (const auto& [name, st] : broken_) names.push_back(name);
  std::sort(names.begin(), names.end());
  auto rank = [](const std::string& n) { return n.rfind("bronze/", 0) == 0 ? 0 : n.rfind("silver/", 0) == 0 ? 1 : 2; };
  std::stable_sort(names.begin(), names.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  JsonWriter w;
  w.BeginObject().Key("tables").BeginArray();
  for (const auto& name : names) {
    w.BeginObject().Key("name").String(name).Key("layer").String(name.substr(0, name.find('/')));
    if (auto b = broken_.find(name); b != broken_.end()) {
      w.Key("status").String("error").Key("error").BeginObject().Key("code").String(StatusCodeName(b->second.code()));
      w.Key("message").String(b->second.message()).EndObject().EndObject();
      continue;
    }
    DeltaTable& t = *tables_[name];
    const Snapshot& s = t.snapshot();
    w.Key("status").String("ok");
    w.Key("version").Int(s.version).Key("files").Int(static_cast<int64_t>(s.files.size()));
    w.Key("size_bytes").Int(s.SizeBytes()).Key("rows").Int(s.NumRecords());
    w.Key("partition_columns").BeginArray();
    for (const auto& c : s.partition_columns()) w.String(c);
    w.EndArray();
    w.Key("checkpoint_version").Int(t.last_checkpoint_version());
    const std::vector<DataLossGap> gaps = DataLossGapsOf(s);
    if (!gaps.empty()) {
      w.Key("data_loss").BeginArray();
      for (const auto& g : gaps) {
        w.BeginObject().Key("topic").String(g.topic).Key("partition").Int(g.partition).Key("epoch").String(g.epoch);
        w.Key("from_offset").Int(g.from_offset).Key("to_offset").Int(g.to_offset).Key("records").Int(g.records());
        w.Key("seen_at").String(FormatTimestampIso(g.seen_at_ms * 1000)).Key("accepted").Bool(g.accepted);
        if (g.accepted) w.Key("accepted_at").String(FormatTimestampIso(g.accepted_at_ms * 1000));
        w.Key("accept_with").String("--accept-data-loss " + g.Spec()).EndObject();
      }
      w.EndArray();
    }
    w.Key("last_commit");
    auto key = std::make_pair(name, s.version);
    auto it = last_commit_json_.find(key);
    if (it == last_commit_json_.end()) {
      std::string json = "null";
      if (s.version >= 0) {
        if (auto c = t.ReadCommit(s.version); c.ok()) {
          JsonWriter cw;
          cw.BeginObject();
          WriteCommitSummary(cw, s.version, *c);
          cw.EndObject();
          json = cw.Take();
        }
      }
      it = last_commit_json_.emplace(key, json).first;
    }
    w.Raw(it->second);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

std::vector<TableState> LakeQueries::TableStates() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TableState> out;
  if (!RefreshLocked(false).ok()) return out;
  for (const auto& [name, t] : tables_) {
    const Snapshot& s = t->snapshot();
    out.push_back({name, s.version, static_cast<int64_t>(s.files.size()), s.SizeBytes(), s.NumRecords(), "",
                   DataLossGapsOf(s)});
  }
  for (const auto& [name, st] : broken_) out.push_back({name, -1, 0, 0, 0, st.ToString(), {}});
  return out;
}

Result<std::string> LakeQueries::TableJson(const std::string& name, int history) {
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(RefreshLocked(false));
  if (auto b = broken_.find(name); b != broken_.end()) return b->second.WithContext("table " + name);
  auto it = tables_.find(name);
  if (it == tables_.end()) return NotFound("no Delta table {} under {}: GET /api/v1/tables lists them", name, root_);
  DeltaTable& t = *it->second;
  const Snapshot& s = t.snapshot();
  JsonWriter w;
  w.BeginObject().Key("name").String(name).Key("location").String(JoinLocation(root_, name));
  w.Key("version").Int(s.version).Key("files").Int(static_cast<int64_t>(s.files.size()));
  w.Key("size_bytes").Int(s.SizeBytes()).Key("rows").Int(s.NumRecords());
  w.Key("checkpoint_version").Int(t.last_checkpoint_version());
  w.Key("schema").BeginArray();
  for (const auto& f : s.schema().fields) {
    w.BeginObject().Key("name").String(f.name).Key("type");
    if (!f.type.empty() && f.type[0] == '{') w.Raw(f.type);  // a nested type is JSON already
    else w.String(f.type);
    w.Key("nullable").Bool(f.nullable).EndObject();
  }
  w.EndArray();
  w.Key("partition_columns").BeginArray();
  for (const auto& c : s.partition_columns()) w.String(c);
  w.EndArray();
  w.Key("history").BeginArray();
  for (int64_t v = s.version; v >= 0 && v > s.version - history; --v) {
    auto c = t.ReadCommit(v);
    if (!c.ok()) break;  // cleaned up (log retention)
    w.BeginObject();
    WriteCommitSummary(w, v, *c);
    w.Key("commit_info");
    if (c->commit_info_json.empty()) w.Null();
    else w.Raw(c->commit_info_json);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace lakestream
