#include "delta_test_util.h"

#include <simdjson.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "common/ids.h"
#include "azurite.h"
#include "lake/delta/delta_scan.h"

namespace lakestream::testing {

namespace fs = std::filesystem;

std::string MakeTempDir(const std::string& prefix) {
  fs::path p = fs::temp_directory_path() / (prefix + "-" + RandomUuid().substr(0, 12));
  fs::create_directories(p);
  static std::vector<std::string>* dirs = [] {
    auto* v = new std::vector<std::string>();
    std::atexit([] {
      std::error_code ec;
      for (const auto& d : *dirs) fs::remove_all(d, ec);
    });
    return v;
  }();
  dirs->push_back(p.string());
  return p.string();
}

bool OnAzure() {
  const char* store = std::getenv("LAKESTREAM_TEST_STORE");
  return store != nullptr && std::string(store) == "azurite";
}

std::string MakeTableLocation(const std::string& prefix) {
  if (!OnAzure()) return MakeTempDir(prefix);
  std::string error;
  if (StartAzurite(&error).empty()) {
    std::fprintf(stderr, "cannot start Azurite: %s\n", error.c_str());
    std::abort();
  }
  return "az://lakestream-tests/" + prefix + "-" + RandomUuid().substr(0, 12);
}

bool ObjectExists(const std::string& location, const std::string& rel) {
  auto storage = OpenStorage(location, false);
  return storage.ok() && (*storage)->Stat(rel).ok();
}

void CopyTree(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  for (auto& e : fs::recursive_directory_iterator(to)) {
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  }
  fs::permissions(to, fs::perms::owner_write, fs::perm_options::add);
}

namespace {
std::string Q(const std::string& s) { return ColumnarEngine::Quote(s); }
std::string Ident(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }
}  // namespace

Status CheckStatsAgainstData(const Snapshot& snapshot, Storage& storage, ColumnarEngine& engine, int* checked) {
  *checked = 0;
  simdjson::dom::parser parser;
  for (const auto& [key, add] : snapshot.files) {
    if (add.stats_json.empty()) continue;
    simdjson::dom::element stats;
    if (parser.parse(add.stats_json).get(stats) != simdjson::SUCCESS) {
      return Corruption("{}: stats are not JSON", add.path);
    }
    ScanOptions one;
    one.only_files = {key};
    ASSIGN_OR_RETURN(std::string scan, SnapshotScanSql(snapshot, storage, engine, one));
    int64_t num_records = -1;
    if (stats["numRecords"].get(num_records) == simdjson::SUCCESS) {
      ASSIGN_OR_RETURN(QueryResult n, engine.Query("SELECT count(*) FROM (" + scan + ")"));
      if (n.rows[0][0].value_or("") != std::to_string(num_records)) {
        return Corruption("{}: numRecords {} but the file has {} rows", add.path, num_records, *n.rows[0][0]);
      }
      ++*checked;
    }
    for (const auto& f : snapshot.schema().fields) {
      if (!f.type.empty() && f.type[0] == '{') continue;  // nested: not compared
      ASSIGN_OR_RETURN(std::string duck, DuckDbTypeOf(f.type));
      const std::string col = Ident(f.name);
      int64_t nulls = 0;
      if (stats["nullCount"][f.name].get(nulls) == simdjson::SUCCESS) {
        ASSIGN_OR_RETURN(QueryResult r, engine.Query("SELECT count(*) - count(" + col + ") FROM (" + scan + ")"));
        if (r.rows[0][0].value_or("") != std::to_string(nulls)) {
          return Corruption("{} column {}: nullCount {} but the file has {}", add.path, f.name, nulls,
                            r.rows[0][0].value_or("?"));
        }
        ++*checked;
      }
      for (const char* which : {"minValues", "maxValues"}) {
        simdjson::dom::element v;
        if (stats[which][f.name].get(v) != simdjson::SUCCESS || v.is_null()) continue;
        std::string text = v.is_string() ? std::string(std::string_view(v)) : simdjson::minify(v);
        const bool is_min = std::string(which) == "minValues";
        std::string agg = std::string(is_min ? "min(" : "max(") + col + ")";
        std::string expected = "CAST(" + Q(text) + " AS " + duck + ")";
        std::string cond;
        if (f.type.rfind("decimal", 0) == 0 || f.type == "float") {
          // Spark writes decimal and float stats as JSON doubles: compare with a relative tolerance of
          // 1e-12 (the last digits of a double's decimal rendering).
          agg = "CAST(" + agg + " AS DOUBLE)";
          expected = "CAST(" + Q(text) + " AS DOUBLE)";
          cond = "abs(" + agg + " - " + expected + ") <= 1e-12 * greatest(abs(" + expected + "), 1e-300)";
        } else if (f.type == "timestamp") {
          agg = "date_trunc('millisecond', " + agg + ")";
        } else if (f.type == "string") {
          agg = "CASE WHEN length(" + agg + ") > 32 THEN " + Q(text) + " ELSE " + agg + " END";
        }
        if (cond.empty()) cond = agg + " = " + expected;
        ASSIGN_OR_RETURN(QueryResult r, engine.Query("SELECT (" + cond + ")::VARCHAR, " + agg +
                                                     "::VARCHAR FROM (" + scan + ")"));
        if (r.rows[0][0].value_or("") != "true") {
          return Corruption("{} column {}: {} says {} but DuckDB computes {}", add.path, f.name, which, text,
                            r.rows[0][1].value_or("NULL"));
        }
        ++*checked;
      }
    }
  }
  return Status::OK();
}

}  // namespace lakestream::testing
