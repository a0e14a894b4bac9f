#include "app/table_command.h"

#include "common/strings.h"

#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "common/json_writer.h"
#include "common/time.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_maintenance.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

namespace {

struct TableOptions {
  std::string uri;
  int64_t version = -1;
  std::string timestamp;
  bool json = false;
  int64_t limit = 0;
  int64_t rows = 20;
  int64_t target_file_size_bytes = 128LL << 20;
  double retention_hours = -1;
  bool dry_run = false;
  bool force = false;
  bool restore_anyway = false;
  CLI::App *describe = nullptr, *history = nullptr, *files = nullptr, *head = nullptr, *checkpoint = nullptr,
           *optimize = nullptr, *vacuum = nullptr, *restore = nullptr;
};

TableOptions& Opts() {
  static TableOptions o;
  return o;
}

std::string Millis(int64_t ms) { return ms > 0 ? FormatTimestampIso(ms * 1000) : std::string("-"); }

std::string HumanBytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", b) : fmt::format("{:.1f} {}", v, units[u]);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "lakestream table: %s\n", st.ToString().c_str());
  return 1;
}

Result<SnapshotSelector> Selector(const TableOptions& o) {
  SnapshotSelector s;
  if (o.version >= 0) s.version = o.version;
  if (!o.timestamp.empty()) {
    if (o.version >= 0) return InvalidArgument("give --version or --timestamp, not both");
    bool digits = o.timestamp.find_first_not_of("0123456789") == std::string::npos;
    if (digits) {
      const std::optional<int64_t> ms = ParseInt64(o.timestamp);
      if (!ms) return InvalidArgument("--timestamp {}: out of range; give Unix milliseconds or an ISO 8601 instant",
                                      o.timestamp);
      s.timestamp_ms = *ms;
    } else {
      auto tz = TimeZoneRule::Parse("UTC");
      auto micros = ParseEventTimeMicros(o.timestamp, *tz);
      if (!micros) {
        return InvalidArgument("--timestamp '{}' is neither milliseconds since the epoch nor a date/time such as "
                               "2026-11-21T10:00:00Z",
                               o.timestamp);
      }
      s.timestamp_ms = *micros / 1000;
    }
  }
  return s;
}

// The table's row count: from the add actions' stats, and for files that carry none from their Parquet
// footers (Delta PROTOCOL.md, "Per-file Statistics": stats are optional, e.g. Spark tables written
// with stats collection off). nullopt when a footer cannot be read.
struct RowCount {
  std::optional<int64_t> rows;
  int64_t files_without_stats = 0;
};

RowCount CountRows(DeltaTable& t) {
  const Snapshot& s = t.snapshot();
  RowCount out;
  std::map<std::string, AddFile> no_stats;
  int64_t from_stats = 0;
  for (const auto& [path, f] : s.files) {
    if (f.num_records >= 0) {
      from_stats += f.num_records;
    } else {
      no_stats.emplace(path, f);
    }
  }
  out.files_without_stats = static_cast<int64_t>(no_stats.size());
  if (no_stats.empty()) {
    out.rows = from_stats;
    return out;
  }
  auto engine = ColumnarEngine::Open(1, "256MB");
  if (!engine.ok()) return out;
  auto paths = DataFileLocalPaths(t.storage(), no_stats);
  if (!paths.ok()) return out;
  auto r = (*engine)->Query("SELECT sum(num_rows)::BIGINT FROM parquet_file_metadata(" +
                            ColumnarEngine::PathList(*paths) + ")");
  if (!r.ok() || r->rows.empty() || !r->rows[0][0]) return out;
  const std::optional<int64_t> footers = ParseInt64(*r->rows[0][0]);
  if (!footers) return out;
  out.rows = from_stats + *footers;
  return out;
}

int Describe(DeltaTable& t, bool json) {
  const Snapshot& s = t.snapshot();
  const RowCount count = CountRows(t);
  if (json) {
    JsonWriter w;
    w.BeginObject()
        .Key("location").String(t.storage().uri())
        .Key("id").String(s.metadata.id)
        .Key("name").String(s.metadata.name)
        .Key("version").Int(s.version)
        .Key("timestamp_ms").Int(s.timestamp_ms)
        .Key("minReaderVersion").Int(s.protocol.min_reader_version)
        .Key("minWriterVersion").Int(s.protocol.min_writer_version)
        .Key("schemaString").String(s.metadata.schema_string)
        .Key("partitionColumns").BeginArray();
    for (const auto& p : s.partition_columns()) w.String(p);
    w.EndArray()
        .Key("numFiles").Int(static_cast<int64_t>(s.files.size()))
        .Key("numRecords");
    if (count.rows) {
      w.Int(*count.rows);
    } else {
      w.Null();
    }
    w.Key("filesWithoutStats").Int(count.files_without_stats)
        .Key("sizeInBytes").Int(s.SizeBytes())
        .Key("checkpointVersion").Int(s.checkpoint_version)
        .Key("properties").BeginObject();
    for (const auto& [k, v] : s.configuration()) w.Key(k).String(v);
    w.EndObject().Key("txns").BeginObject();
    for (const auto& [app, txn] : s.txns) w.Key(app).Int(txn.version);
    w.EndObject().EndObject();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  std::printf("location           %s\n", t.storage().uri().c_str());
  std::printf("name               %s\n", s.metadata.name.empty() ? "-" : s.metadata.name.c_str());
  std::printf("id                 %s\n", s.metadata.id.c_str());
  std::printf("version            %lld (committed %s)\n", static_cast<long long>(s.version),
              Millis(s.timestamp_ms).c_str());
  std::printf("protocol           (%d,%d)\n", s.protocol.min_reader_version, s.protocol.min_writer_version);
  std::string parts;
  for (const auto& p : s.partition_columns()) parts += (parts.empty() ? "" : ", ") + p;
  std::printf("partition columns  %s\n", parts.empty() ? "-" : parts.c_str());
  std::printf("files              %zu\n", s.files.size());
  if (!count.rows) {
    std::printf("rows               unknown (%lld files carry no stats and their Parquet footers could not be read)\n",
                static_cast<long long>(count.files_without_stats));
  } else if (count.files_without_stats > 0) {
    std::printf("rows               %lld (%lld files without stats counted from their Parquet footers)\n",
                static_cast<long long>(*count.rows), static_cast<long long>(count.files_without_stats));
  } else {
    std::printf("rows (from stats)  %lld\n", static_cast<long long>(*count.rows));
  }
  std::printf("size               %s (%lld bytes)\n", HumanBytes(s.SizeBytes()).c_str(),
              static_cast<long long>(s.SizeBytes()));
  if (s.checkpoint_version >= 0) {
    std::printf("checkpoint         version %lld (snapshot rebuilt from it + %lld commits)\n",
                static_cast<long long>(s.checkpoint_version), static_cast<long long>(s.version - s.checkpoint_version));
  } else {
    std::printf("checkpoint         none (snapshot rebuilt from %lld JSON commits)\n",
                static_cast<long long>(s.version + 1));
  }
  std::printf("schema\n");
  for (const auto& f : s.schema().fields) {
    std::printf("  %-28s %s%s\n", f.name.c_str(), f.type.c_str(), f.nullable ? "" : " NOT NULL");
  }
  if (!s.configuration().empty()) {
    std::printf("properties\n");
    for (const auto& [k, v] : s.configuration()) std::printf("  %s = %s\n", k.c_str(), v.c_str());
  }
  if (!s.txns.empty()) {
    std::printf("stream progress (txn appId -> version)\n");
    for (const auto& [app, txn] : s.txns) std::printf("  %s -> %lld\n", app.c_str(), static_cast<long long>(txn.version));
  }
  for (const auto& n : s.notes) std::printf("note: %s\n", n.c_str());
  return 0;
}

int History(DeltaTable& t, int64_t limit, bool json) {
  auto h = ReadHistory(t.storage(), limit);
  if (!h.ok()) return Fail(h.status());
  if (json) {
    for (const auto& e : *h) {
      JsonWriter w;
      w.BeginObject().Key("version").Int(e.version).Key("timestamp_ms").Int(e.timestamp_ms).Key("commitInfo").Raw(
          e.commit_info_json);
      w.EndObject();
      std::printf("%s\n", w.str().c_str());
    }
    return 0;
  }
  std::printf("%-8s %-26s %-18s %s\n", "version", "timestamp", "operation", "commitInfo");
  for (const auto& e : *h) {
    std::printf("%-8lld %-26s %-18s %s\n", static_cast<long long>(e.version), Millis(e.timestamp_ms).c_str(),
                e.operation.empty() ? "-" : e.operation.c_str(), e.commit_info_json.c_str());
  }
  return 0;
}

int Files(DeltaTable& t, bool json) {
  for (const auto& [key, f] : t.snapshot().files) {
    if (json) {
      JsonWriter w;
      w.BeginObject().Key("path").String(f.path).Key("size").Int(f.size_bytes).Key("numRecords").Int(f.num_records);
      w.Key("modificationTime").Int(f.modification_time_ms);
      if (!f.stats_json.empty()) w.Key("stats").String(f.stats_json);
      w.EndObject();
      std::printf("%s\n", w.str().c_str());
    } else {
      std::printf("%12lld bytes %10lld rows  %s\n", static_cast<long long>(f.size_bytes),
                  static_cast<long long>(f.num_records), f.path.c_str());
    }
  }
  return 0;
}

int Head(DeltaTable& t, int64_t rows) {
  auto engine = ColumnarEngine::Open(1, "512MB");
  if (!engine.ok()) return Fail(engine.status());
  auto sql = SnapshotScanSql(t.snapshot(), t.storage(), **engine);
  if (!sql.ok()) return Fail(sql.status());
  auto result = (*engine)->Query("SELECT * FROM (" + *sql + ") LIMIT " + std::to_string(rows));
  if (!result.ok()) return Fail(result.status());
  std::string line;
  for (size_t i = 0; i < result->columns.size(); ++i) line += (i ? "\t" : "") + result->columns[i];
  std::printf("%s\n", line.c_str());
  for (const auto& r : result->rows) {
    line.clear();
    for (size_t i = 0; i < r.size(); ++i) line += (i ? "\t" : "") + r[i].value_or("NULL");
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

CLI::App* AddTableCommand(CLI::App& app) {
  TableOptions& o = Opts();
  auto* table = app.add_subcommand("table", "Inspect and maintain a Delta table: describe, history, files, head, "
                                            "checkpoint, optimize, vacuum, restore");
  table->add_option("uri", o.uri, "Table location: a local path, file:///abs/path or an Azure location (az://<container>/<path>, abfss://…; docs/storage.md)")->required();
  table->require_subcommand(1);
  auto at = [&](CLI::App* c) {
    c->add_option("--version", o.version, "Time travel: read this version")->type_name("N");
    c->add_option("--timestamp", o.timestamp,
                  "Time travel: the latest version committed at or before this time (ms since the epoch, or "
                  "2026-11-21T10:00:00Z)")
        ->type_name("TIME");
  };
  o.describe = table->add_subcommand("describe", "Schema, partition columns, version, files, rows, bytes, properties");
  at(o.describe);
  o.describe->add_flag("--json", o.json, "One JSON object instead of text");
  o.history = table->add_subcommand("history", "commitInfo of each version still in the log, newest first");
  o.history->add_option("--limit", o.limit, "At most this many versions (0: all)")->type_name("N");
  o.history->add_flag("--json", o.json, "JSON lines instead of text");
  o.files = table->add_subcommand("files", "The active data files with size and row count");
  at(o.files);
  o.files->add_flag("--json", o.json, "JSON lines instead of text");
  o.head = table->add_subcommand("head", "The first rows, tab-separated");
  at(o.head);
  o.head->add_option("-n,--rows", o.rows, "Rows to print")->type_name("N");
  o.checkpoint = table->add_subcommand("checkpoint", "Write a checkpoint of the latest version now");
  o.optimize = table->add_subcommand("optimize", "Compact small files into files near the target size (bin-packing)");
  o.optimize->add_option("--target-file-size", o.target_file_size_bytes, "Target file size")->type_name("BYTES");
  o.vacuum = table->add_subcommand("vacuum", "Delete unreferenced files older than the retention");
  o.vacuum->add_option("--retention-hours", o.retention_hours,
                       "Retention (default: the table's delta.deletedFileRetentionDuration, 168 h)")
      ->type_name("HOURS");
  o.vacuum->add_flag("--dry-run", o.dry_run, "List the files without deleting them");
  o.vacuum->add_flag("--force", o.force, "Allow a retention below the table's delete retention");
  o.restore = table->add_subcommand("restore", "Commit a new version with the files of an older one");
  o.restore->add_option("--version", o.version, "The version to restore")->type_name("N")->required();
  o.restore->add_flag("--force", o.restore_anyway,
                      "Restore a table a lakestream pipeline maintains (refused otherwise: `lakestream rebuild` "
                      "recomputes a derived table)");
  return table;
}

int RunTableCommand() {
  TableOptions& o = Opts();
  auto storage = OpenStorage(o.uri, false);
  if (!storage.ok()) return Fail(storage.status());
  const bool reads_old = o.describe->parsed() || o.files->parsed() || o.head->parsed();
  SnapshotSelector at;
  if (reads_old) {
    auto s = Selector(o);
    if (!s.ok()) return Fail(s.status());
    at = *s;
  }
  auto table = DeltaTable::OpenExisting(*storage, o.uri, at);
  if (!table.ok()) return Fail(table.status());
  DeltaTable& t = **table;
  if (o.describe->parsed()) return Describe(t, o.json);
  if (o.history->parsed()) return History(t, o.limit, o.json);
  if (o.files->parsed()) return Files(t, o.json);
  if (o.head->parsed()) return Head(t, o.rows);
  if (o.checkpoint->parsed()) {
    auto cp = t.Checkpoint();
    if (!cp.ok()) return Fail(cp.status());
    std::printf("checkpoint at version %lld: %lld actions, %lld add files, %s\n", static_cast<long long>(cp->version),
                static_cast<long long>(cp->size), static_cast<long long>(cp->num_add_files),
                HumanBytes(cp->size_bytes).c_str());
    return 0;
  }
  if (o.optimize->parsed()) {
    if (o.target_file_size_bytes < 1) return Fail(InvalidArgument("--target-file-size must be a positive byte count"));
    auto engine = ColumnarEngine::Open(2, "1GB");
    if (!engine.ok()) return Fail(engine.status());
    OptimizeOptions opt;
    opt.target_file_size_bytes = o.target_file_size_bytes;
    auto r = Optimize(t, **engine, opt);
    if (!r.ok()) return Fail(r.status());
    if (r->version < 0) {
      std::printf("nothing to optimize: no partition has two or more files smaller than %s\n",
                  HumanBytes(opt.target_file_size_bytes).c_str());
    } else {
      std::printf("optimized version %lld: %lld files (%s) -> %lld files (%s) in %lld partitions\n",
                  static_cast<long long>(r->version), static_cast<long long>(r->files_removed),
                  HumanBytes(r->bytes_removed).c_str(), static_cast<long long>(r->files_added),
                  HumanBytes(r->bytes_added).c_str(), static_cast<long long>(r->partitions_optimized));
    }
    return 0;
  }
  if (o.vacuum->parsed()) {
    VacuumOptions v;
    if (o.retention_hours >= 0) v.retention_ms = static_cast<int64_t>(o.retention_hours * 3'600'000.0);
    v.dry_run = o.dry_run;
    v.force = o.force;
    auto r = Vacuum(t, v);
    if (!r.ok()) return Fail(r.status());
    for (const auto& f : r->files) std::printf("%s %s\n", o.dry_run ? "would delete" : "deleted", f.c_str());
    std::printf("%s %zu files (%s) older than %.1f h and no longer referenced\n",
                o.dry_run ? "would delete" : "deleted", r->files.size(), HumanBytes(r->bytes).c_str(),
                r->retention_ms / 3'600'000.0);
    return 0;
  }
  if (o.restore->parsed()) {
    // A table a pipeline maintains records in its txns what it reflects (bronze: Kafka offsets; silver,
    // quarantine: the bronze version; gold: the silver version). RESTORE brings files back, not txns, so
    // the pipeline would go on as if the table were current and keep the old rows for good.
    std::string maintained;
    for (const auto& [app, txn] : t.snapshot().txns) {
      if (app.rfind("lakestream-", 0) == 0) maintained = app;
    }
    if (!maintained.empty() && !o.restore_anyway) {
      std::string pipeline = maintained.substr(std::string("lakestream-").size());
      pipeline = pipeline.substr(0, pipeline.find('-'));
      return Fail(Conflict(
          "{} is maintained by the lakestream pipeline '{}' (txn {}): a restore would bring old files back while "
          "the pipeline's progress marker stays, so the table would stay wrong. To recompute it from its source, "
          "stop the pipeline and run `lakestream rebuild --lakehouse <root> [--pipeline FILE] <layer>/<table>`; "
          "to restore anyway (then rebuild what is derived from it), pass --force",
          t.storage().uri(), pipeline, maintained));
    }
    auto v = Restore(t, o.version);
    if (!v.ok()) return Fail(v.status());
    std::printf("restored version %lld as version %lld\n", static_cast<long long>(o.version),
                static_cast<long long>(*v));
    return 0;
  }
  return 2;
}

}  // namespace lakestream
