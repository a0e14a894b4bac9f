#include "pipeline/gold_refresh.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "common/time.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_writer.h"

namespace lakestream {

namespace {

// A gold table records a silver version without rows of its own (silver moved by fences or
// compaction only) once it lags by this many versions, so that refreshes re-read few commits.
constexpr int64_t kFenceEveryVersions = 50;

std::string ReadParquet(const std::vector<std::string>& files) {
  return "read_parquet(" + ColumnarEngine::PathList(files) + ")";
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

// commitInfo operationParameters of an overwrite of partitions: {"mode":"Overwrite","partitionBy":"[\"c\",…]"}
// (partitionBy is a JSON array written as a string, as Delta/Spark write it).
std::string OverwriteParameters(const std::vector<std::string>& partition_columns) {
  std::string by;
  for (const auto& c : partition_columns) by += std::string(by.empty() ? "" : ",") + R"(\")" + c + R"(\")";
  return R"({"mode":"Overwrite","partitionBy":"[)" + by + R"(]"})";
}

}  // namespace

std::string EmptyRelation(const std::vector<ColumnSpec>& columns) {
  std::string cols;
  for (const auto& c : columns) {
    cols += (cols.empty() ? "" : ", ") + ("NULL::" + c.SqlType() + " AS " + ColumnarEngine::QuoteIdentifier(c.name));
  }
  return "(SELECT " + cols + " WHERE false)";
}

Result<GoldRefreshResult> RefreshGoldTable(const GoldPlan& plan, DeltaTable& gold, DeltaTable& silver,
                                           ColumnarEngine& engine, const std::set<std::string>& extra_dates,
                                           bool rebuild) {
  const GoldTableDef& def = plan.def;
  GoldRefreshResult out;
  RETURN_IF_ERROR(gold.Refresh());
  const Snapshot& ss = silver.snapshot();
  const int64_t sv = ss.version;
  const int64_t gv = gold.snapshot().TxnVersion(plan.app_id).value_or(-1);
  const bool has_extra = plan.kind == GoldPlan::Kind::kDatePartitions && !extra_dates.empty();
  if (gv >= sv && !has_extra && !rebuild) return out;
  auto silver_relation = [&](const std::vector<std::string>& files) {
    return files.empty() ? EmptyRelation(plan.silver_columns) : ReadParquet(files);
  };

  ASSIGN_OR_RETURN(std::vector<std::string> all_files, DataFileLocalPaths(silver.storage(), ss.files));
  // The silver files added since gv, when the log still has those commits and the files are active.
  bool full = gv < 0 || rebuild;
  std::vector<std::string> new_files;
  for (int64_t v = gv + 1; !full && v <= sv; ++v) {
    auto c = silver.ReadCommit(v);
    if (!c.ok()) {
      spdlog::info("{}: silver commit {} is unreadable ({}); rebuilding in full", def.name, v, c.status().message());
      full = true;
      break;
    }
    for (const auto& rm : c->removes) {
      // Rows taken out of silver (a DELETE, UPDATE or MERGE by another writer, or a rebuild) were
      // counted in gold already: only a recount is right.
      if (rm.data_change) {
        spdlog::info("{}: silver commit {} ({}) removed rows; rebuilding in full", def.name, v, c->operation);
        full = true;
        break;
      }
    }
    for (const auto& add : c->adds) {
      if (full) break;
      if (!add.data_change) continue;  // compaction: rows already counted
      std::string key = CanonicalDeltaPath(add.path);
      if (!ss.files.count(key)) {
        full = true;  // rewritten since: recount everything rather than guess
        break;
      }
      ASSIGN_OR_RETURN(std::string local, DataFileLocalPath(silver.storage(), key, add.size_bytes));
      new_files.push_back(std::move(local));
    }
  }
  if (full) new_files = all_files;
  out.full = full;

  Transaction txn;
  txn.operation = "WRITE";
  txn.txns.push_back({plan.app_id, std::max(sv, gv), 0});
  const int64_t now_ms = NowMillis();
  std::string select;
  bool merged = false;  // the partials path: its temp table is dropped after the write

  if (!full && new_files.empty() && !has_extra) {
    if (sv - gv < kFenceEveryVersions) return out;  // nothing new; re-reading these commits is cheap
  } else if ((merged = plan.kind == GoldPlan::Kind::kDatePartitions && plan.merge_partials && !full)) {
    // Partials of the new silver rows, merged into the partitions they touch.
    const auto& pcols = def.partition_columns;
    const std::string partials = "lakestream_gold_partials";
    const std::string delta_sql = new_files.empty() ? "SELECT * FROM " + EmptyRelation(def.columns)
                                                    : plan.query(ReadParquet(new_files));
    RETURN_IF_ERROR(engine.Query("CREATE OR REPLACE TEMP TABLE " + partials + " AS " + delta_sql).status());
    std::string pcol_list;
    for (const auto& c : pcols) pcol_list += (pcol_list.empty() ? "" : ", ") + ColumnarEngine::QuoteIdentifier(c) + "::VARCHAR";
    ASSIGN_OR_RETURN(QueryResult touched, engine.Query("SELECT DISTINCT " + pcol_list + " FROM " + partials));
    std::set<std::vector<std::string>> partitions;
    for (const auto& row : touched.rows) {
      std::vector<std::string> values;
      for (const auto& v : row) values.push_back(v.value_or(""));
      partitions.insert(values);
    }
    ScanOptions old_rows;
    std::set<std::vector<std::string>> rewritten = partitions;  // for the metrics
    for (const auto& [key, f] : gold.snapshot().files) {
      std::vector<std::string> values;
      for (const auto& c : pcols) {
        auto pv = f.partition_values.find(c);
        values.push_back(pv != f.partition_values.end() && pv->second ? *pv->second : "");
      }
      if (!partitions.count(values) && !extra_dates.count(values.at(0))) continue;
      old_rows.only_files.push_back(key);
      txn.removes.push_back(RemoveOf(f, now_ms, true));
      rewritten.insert(values);
    }
    std::string rows = "(SELECT * FROM " + partials;
    if (!old_rows.only_files.empty()) {
      ASSIGN_OR_RETURN(std::string old_sql, SnapshotScanSql(gold.snapshot(), gold.storage(), engine, old_rows));
      rows += " UNION ALL BY NAME " + old_sql;
    }
    rows += ")";
    select = plan.merge_partials(rows);
    out.keys_rewritten = static_cast<int64_t>(rewritten.size());
    txn.operation_parameters_json = OverwriteParameters(pcols);
  } else if (plan.kind == GoldPlan::Kind::kDatePartitions) {
    const std::string& pcol = def.partition_columns.at(0);
    const std::string& date_expr = plan.silver_date_expr;
    std::set<std::string> dates = extra_dates;
    std::vector<std::string> sources;
    if (full) {
      sources = all_files;
    } else {
      if (!new_files.empty()) {
        ASSIGN_OR_RETURN(QueryResult touched,
                         engine.Query("SELECT DISTINCT (" + date_expr + ")::VARCHAR FROM " + ReadParquet(new_files) +
                                      " WHERE " + date_expr + " IS NOT NULL"));
        for (const auto& row : touched.rows) dates.insert(row[0].value_or(""));
      }
      // Only the silver files whose statistics can hold a touched date.
      simdjson::dom::parser parser;
      for (const auto& [key, f] : ss.files) {
        std::string lo, hi;
        if (StatsDateRange(parser, f, plan.prune_column, &lo, &hi)) {
          auto it = dates.lower_bound(lo);
          if (it == dates.end() || *it > hi) continue;
        }
        ASSIGN_OR_RETURN(std::string local, DataFileLocalPath(silver.storage(), key, f.size_bytes));
        sources.push_back(std::move(local));
      }
    }
    std::string filter;
    for (const auto& d : dates) filter += (filter.empty() ? "" : ", ") + ColumnarEngine::Quote(d) + "::DATE";
    std::string relation = silver_relation(sources);
    if (!full) relation = "(SELECT * FROM " + relation + " WHERE " + date_expr + " IN (" + filter + "))";
    if (full || !dates.empty()) select = plan.query(relation);
    for (const auto& [key, f] : gold.snapshot().files) {
      auto pv = f.partition_values.find(pcol);
      if (full || (pv != f.partition_values.end() && pv->second && dates.count(*pv->second))) {
        txn.removes.push_back(RemoveOf(f, now_ms, true));
      }
    }
    out.keys_rewritten = full ? -1 : static_cast<int64_t>(dates.size());
    txn.operation_parameters_json = OverwriteParameters(def.partition_columns);
  } else {
    if (full) {
      select = plan.query(silver_relation(all_files));
    } else {
      const std::string touched = "(SELECT DISTINCT " + plan.key + " FROM " + ReadParquet(new_files) + " WHERE " +
                                  plan.key + " IS NOT NULL)";
      const std::string recomputed_from =
          "(SELECT * FROM " + silver_relation(all_files) + " WHERE " + plan.key + " IN " + touched + ")";
      ASSIGN_OR_RETURN(std::vector<std::string> gold_files, DataFileLocalPaths(gold.storage(), gold.snapshot().files));
      std::string carried;
      if (!gold_files.empty()) {
        carried = "(SELECT * FROM " + ReadParquet(gold_files) + " WHERE " + plan.key + " NOT IN " + touched + ")";
      }
      select = plan.merge(carried, recomputed_from);
      ASSIGN_OR_RETURN(QueryResult n, engine.Query("SELECT count(*) FROM " + touched));
      out.keys_rewritten = std::stoll(n.rows.at(0).at(0).value_or("0"));
    }
    for (const auto& [key, f] : gold.snapshot().files) txn.removes.push_back(RemoveOf(f, now_ms, true));
    txn.operation_parameters_json = R"({"mode":"Overwrite"})";
  }
  if (!select.empty()) {
    ASSIGN_OR_RETURN(txn.adds, WriteDataFiles(engine, gold.storage(), gold.snapshot(), select));
  }
  if (merged) (void)engine.Query("DROP TABLE IF EXISTS lakestream_gold_partials");
  txn.operation_metrics["silverVersion"] = std::to_string(sv);
  txn.operation_metrics["numRewrittenKeys"] = std::to_string(out.keys_rewritten);
  ASSIGN_OR_RETURN(out.version, gold.Commit(txn));
  return out;
}

}  // namespace lakestream
