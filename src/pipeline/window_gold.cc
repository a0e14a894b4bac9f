#include "pipeline/window_gold.h"

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

}  // namespace

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
