#include "pipeline/window_gold.h"

#include <algorithm>
#include <map>

#include "common/time.h"
#include "lake/columnar/columnar.h"

namespace lakestream {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

namespace {

std::string Ident(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }

// Silver rows with every lookup as a column: s.*, coalesce(<value for s.key>, default) AS <lookup>.
std::string WithLookups(const PipelineSpec& spec, const std::string& silver_sql) {
  if (spec.lookups.empty()) return silver_sql;
  std::string cols = "s.*", joins;
  for (size_t i = 0; i < spec.lookups.size(); ++i) {
    const LookupSpec& l = spec.lookups[i];
    const std::string alias = "lk" + std::to_string(i);
    const std::string type = l.column.SqlType();
    std::string rows;
    for (const auto& [k, v] : l.values) {
      rows += (rows.empty() ? "" : " UNION ALL ") + ("SELECT " + ColumnarEngine::Quote(k) + " AS k, " +
                                                    ColumnarEngine::Quote(v) + "::" + type + " AS v");
    }
    if (rows.empty()) rows = "SELECT NULL::VARCHAR AS k, NULL::" + type + " AS v WHERE false";
    cols += ", coalesce(" + alias + ".v, " + ColumnarEngine::Quote(l.default_value) + "::" + type + ") AS " +
            Ident(l.name);
    joins += " LEFT JOIN (" + rows + ") AS " + alias + " ON s." + Ident(l.key) + " = " + alias + ".k";
  }
  return "(SELECT " + cols + " FROM " + silver_sql + " AS s" + joins + ")";
}

std::string MeasureSql(const MeasureSpec& m, const ColumnSpec& out) {
  if (m.fn == "count") return "count(*)::BIGINT";
  if (m.fn == "count_distinct") return "count(DISTINCT " + Ident(m.column) + ")::BIGINT";
  return m.fn + "(" + Ident(m.column) + ")::" + out.SqlType();
}

// The RFM operator over base rows `b` (one per customer): recency against the day after the latest
// order of any customer; quintiles by NTILE(5), ties broken by the key; segments from the R and F
// scores (docs/pipelines/orders.md, "gold/customer_rfm").
std::string RfmSql(const GoldSpec& g, const std::string& b) {
  const std::string key = Ident(g.key), last = Ident(g.rfm.last_date), freq = Ident(g.rfm.frequency),
                    money = Ident(g.rfm.monetary);
  return "SELECT *, r_score::VARCHAR || f_score::VARCHAR || m_score::VARCHAR AS rfm_score, "
         "CASE WHEN r_score >= 4 AND f_score >= 4 THEN 'Champions' "
         "WHEN r_score >= 3 AND f_score >= 3 THEN 'Loyal' "
         "WHEN r_score >= 4 THEN 'New or promising' "
         "WHEN r_score <= 2 AND f_score >= 4 THEN 'At risk' "
         "WHEN r_score <= 2 AND f_score <= 2 THEN 'Hibernating' "
         "ELSE 'Needs attention' END AS segment FROM ("
         "SELECT *, ntile(5) OVER (ORDER BY recency_days DESC, " + key + ")::TINYINT AS r_score, "
         "ntile(5) OVER (ORDER BY " + freq + ", " + key + ")::TINYINT AS f_score, "
         "ntile(5) OVER (ORDER BY " + money + ", " + key + ")::TINYINT AS m_score FROM ("
         "SELECT *, (as_of_date - " + last + ")::INTEGER AS recency_days FROM ("
         "SELECT *, (max(" + last + ") OVER () + 1)::DATE AS as_of_date FROM " + b + " AS base)))";
}

bool IsRfmColumn(const std::string& c) {
  for (const char* r : kRfmOutputColumns) {
    if (c == r) return true;
  }
  return false;
}

// The columns of `g` its sql returns: the schema's, less those the operator adds.
std::vector<std::string> SqlColumns(const GoldSpec& g) {
  std::vector<std::string> out;
  for (const auto& c : g.columns) {
    if (g.op != "rfm" || !IsRfmColumn(c.name)) out.push_back(c.name);
  }
  return out;
}

std::string ColumnList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + Ident(n);
  return out;
}

std::string SchemaColumnList(const GoldSpec& g) {
  std::vector<std::string> names;
  for (const auto& c : g.columns) names.push_back(c.name);
  return ColumnList(names);
}

// The sql's own rows over `silver_sql`.
std::string BaseQuery(const PipelineSpec& spec, const GoldSpec& g, const std::string& silver_sql) {
  return GoldSqlScope(spec, silver_sql) + "SELECT * FROM (" + g.sql + ") AS gold_rows";
}

}  // namespace

std::string GoldSqlScope(const PipelineSpec& spec, const std::string& silver_sql) {
  std::string with = "WITH silver AS (SELECT * FROM " + WithLookups(spec, silver_sql) + " AS silver_rows)";
  for (const auto& v : spec.views) with += ", " + Ident(v.name) + " AS (" + v.sql + ")";
  return with + " ";
}

std::string SqlGoldQuery(const PipelineSpec& spec, const GoldSpec& g, const std::string& silver_sql) {
  std::string rows = "(" + BaseQuery(spec, g, silver_sql) + ")";
  if (g.op == "rfm") rows = "(" + RfmSql(g, rows) + ")";
  return "SELECT " + SchemaColumnList(g) + " FROM " + rows + " AS table_rows";
}

std::string SqlGoldMergeQuery(const PipelineSpec& spec, const GoldSpec& g, const std::string& carried,
                              const std::string& recomputed) {
  if (g.op != "rfm") {
    return (carried.empty() ? "" : "SELECT " + SchemaColumnList(g) + " FROM " + carried + " UNION ALL ") +
           SqlGoldQuery(spec, g, recomputed);
  }
  const std::string base_cols = ColumnList(SqlColumns(g));
  std::string base = "SELECT " + base_cols + " FROM (" + BaseQuery(spec, g, recomputed) + ")";
  if (!carried.empty()) base = "SELECT " + base_cols + " FROM " + carried + " UNION ALL " + base;
  return "SELECT " + SchemaColumnList(g) + " FROM (" + RfmSql(g, "(" + base + ")") + ") AS table_rows";
}

std::string CheckSqlGold(const PipelineSpec& spec, const GoldSpec& g, ColumnarEngine& engine,
                         const std::string& empty_silver) {
  auto described = engine.Query("DESCRIBE SELECT * FROM (" + BaseQuery(spec, g, empty_silver) + ")");
  if (!described.ok()) {
    return "its sql does not run over silver (relation `silver`, its lookups and the views): " +
           described.status().message();
  }
  std::map<std::string, std::string> got;  // column -> DuckDB type
  std::vector<std::string> order;
  for (const auto& row : described->rows) {
    got[row.at(0).value_or("")] = row.at(1).value_or("");
    order.push_back(row.at(0).value_or(""));
  }
  std::string problems;
  auto add = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  const std::vector<std::string> wanted = SqlColumns(g);
  for (const auto& name : wanted) {
    auto it = got.find(name);
    const ColumnSpec* c = nullptr;
    for (const auto& x : g.columns) {
      if (x.name == name) c = &x;
    }
    if (it == got.end()) {
      add("its sql returns no column " + name + " (declared in schema)");
      continue;
    }
    std::string type = it->second == "TIMESTAMP WITH TIME ZONE" ? "TIMESTAMPTZ" : it->second;
    if (type != c->SqlType()) {
      add("column " + name + " is " + type + " in its sql but " + c->SqlType() + " in schema: cast it in the sql, e.g. " +
          name + "::" + c->SqlType());
    }
  }
  for (const auto& name : order) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) {
      add("its sql returns column " + name + ", which schema does not declare" +
          (g.op == "rfm" && IsRfmColumn(name) ? " as a base column (operator \"rfm\" adds it)" : ""));
    }
  }
  if (!problems.empty()) return problems;
  if (g.op == "rfm") {
    auto ranked = engine.Query("DESCRIBE SELECT * FROM (" + SqlGoldQuery(spec, g, empty_silver) + ")");
    if (!ranked.ok()) {
      return "operator \"rfm\" cannot rank its rows (rfm.last_date must be a DATE column, rfm.frequency and "
             "rfm.monetary numeric): " + ranked.status().message();
    }
    for (const auto& row : ranked->rows) {
      const std::string name = row.at(0).value_or("");
      for (const auto& c : g.columns) {
        if (c.name == name && IsRfmColumn(name) && row.at(1).value_or("") != c.SqlType()) {
          add("operator \"rfm\" gives " + name + " as " + row.at(1).value_or("") + ": declare it " + c.SqlType() +
              " in schema");
        }
      }
    }
  }
  return problems;
}

std::string WindowGoldQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                            const std::string& silver_sql, int64_t first_open_day) {
  const std::vector<ColumnSpec> cols = GoldColumns(spec, g, adjustments);
  const std::string et = Ident(spec.event_time);
  std::string select, group;
  if (g.window_ms == 86400000) {
    select = "event_date AS " + Ident(g.window_column);
    group = "event_date";
  } else {
    const char* unit = g.window_ms == 60000 ? "minute" : "hour";
    const std::string hour = g.window_ms == 60000 ? "hour(" + et + ")::INTEGER" : "";
    select = "event_date, " + (hour.empty() ? "" : hour + " AS event_hour, ") + "date_trunc('" + unit + "', " + et +
             ") AS " + Ident(g.window_column);
    group = "event_date, " + (hour.empty() ? "" : hour + ", ") + "date_trunc('" + unit + "', " + et + ")";
  }
  if (adjustments) {
    select += ", ingest_time::DATE AS recorded_on";
    group += ", ingest_time::DATE";
  }
  for (const auto& k : g.group_by) {
    select += ", " + Ident(k);
    group += ", " + Ident(k);
  }
  const size_t first_measure = cols.size() - g.measures.size() - (g.late_events == "adjustments" && !adjustments);
  for (size_t i = 0; i < g.measures.size(); ++i) {
    select += ", " + MeasureSql(g.measures[i], cols[first_measure + i]) + " AS " + Ident(g.measures[i].name);
  }
  std::string where = "TRUE";
  if (!g.filter.empty()) where += " AND (" + g.filter + ")";
  if (g.late_events == "adjustments") {
    where += adjustments ? " AND arrived_after_close" : " AND NOT arrived_after_close";
    if (!adjustments) {
      select += first_open_day == INT64_MIN
                    ? ", false AS is_final"
                    : ", (event_date < " + ColumnarEngine::Quote(FormatDate(first_open_day)) + "::DATE) AS is_final";
    }
  }
  return "SELECT " + select + " FROM " + WithLookups(spec, silver_sql) + " WHERE " + where + " GROUP BY " + group;
}

std::string WindowGoldMergeQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                                 const std::string& rows, int64_t first_open_day) {
  const std::vector<ColumnSpec> cols = GoldColumns(spec, g, adjustments);
  std::string select, group;
  for (const auto& c : cols) {
    const MeasureSpec* m = nullptr;
    for (const auto& x : g.measures) {
      if (x.name == c.name) m = &x;
    }
    const std::string id = Ident(c.name);
    std::string expr;
    if (m) {
      const std::string fn = m->fn == "count" ? "sum" : m->fn;  // partial counts add up
      expr = fn + "(" + id + ")::" + c.SqlType();
    } else if (c.name == "is_final" && g.late_events == "adjustments" && !adjustments) {
      // Recomputed, not merged: a day turns final when the watermark passes it.
      const std::string day = Ident(g.PartitionColumn());
      expr = first_open_day == INT64_MIN
                 ? "false"
                 : "(" + day + " < " + ColumnarEngine::Quote(FormatDate(first_open_day)) + "::DATE)";
    } else {
      expr = id;
      group += (group.empty() ? "" : ", ") + id;
    }
    select += (select.empty() ? "" : ", ") + expr + " AS " + id;
  }
  return "SELECT " + select + " FROM " + rows + " GROUP BY " + group;
}

}  // namespace lakestream
