// Test helper: a separate writer process for the Delta concurrency and crash tests.
//   delta_writer_tool append <table-dir> <writer-id> <commits>   blind appends, one data file each
//   delta_writer_tool crash-before-commit <table-dir>            writes a data file, then dies by SIGKILL
// The table must exist with schema (writer integer, seq integer). Exit code 0 on success.
#include <csignal>
#include <cstdio>
#include <string>

#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"
#include "lake/delta/delta_writer.h"

using namespace lakestream;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: delta_writer_tool append DIR WRITER COMMITS | crash-before-commit DIR\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto storage = OpenStorage(argv[2], false);
  auto engine = ColumnarEngine::Open(1, "256MB");
  if (!storage.ok() || !engine.ok()) return 3;
  auto table = DeltaTable::OpenExisting(*storage, "t");
  if (!table.ok()) {
    std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
    return 3;
  }
  if (mode == "crash-before-commit") {
    auto adds = WriteDataFiles(**engine, **storage, (*table)->snapshot(), "SELECT 99, 0");
    if (!adds.ok() || adds->empty()) return 4;
    std::printf("%s\n", (*adds)[0].path.c_str());
    std::fflush(stdout);
    std::raise(SIGKILL);  // killed between the data file and the commit
  }
  if (mode != "append" || argc < 5) return 2;
  const int writer = std::stoi(argv[3]);
  const int commits = std::stoi(argv[4]);
  for (int i = 0; i < commits; ++i) {
    auto adds = WriteDataFiles(**engine, **storage, (*table)->snapshot(),
                               "SELECT " + std::to_string(writer) + ", " + std::to_string(i));
    if (!adds.ok()) {
      std::fprintf(stderr, "writer %d: %s\n", writer, adds.status().ToString().c_str());
      return 5;
    }
    Transaction txn;
    txn.adds = *adds;
    auto v = (*table)->Commit(txn);
    if (!v.ok()) {
      std::fprintf(stderr, "writer %d commit %d: %s\n", writer, i, v.status().ToString().c_str());
      return 6;
    }
  }
  return 0;
}
