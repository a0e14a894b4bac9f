// Batch jobs: a job is declared in a TOML file like a pipeline — input, bronze table, SQL for silver and
// gold, output (docs/jobs.md) — and run with `lakestream job run NAME [--input …] [--param k=v]`.
//
//   input files ──► bronze/<job>       one row per record, raw text as received; a txn per input file
//                                      ("lakestream-job-<name>-input-<sha256>"), so a file lands once
//   all of bronze ─► silver/<job>      decoded (CSV fields / JSON text), expectations, the latest record per
//                │                     key, then the job's silver SQL; txn ("…silver<-bronze", bronze version)
//                └─► silver/<job>_quarantine  records that failed decoding or an expectation, with file,
//                                      record index, line, the rules and the reason
//   silver + params ─► gold/<table>    the job's gold SQL; committed only when its content changes, in the
//                                      partition of the run's parameters when partition_by names them
//   gold + params ─► output            the job's output SQL: human (pt-BR numbers), CSV or JSON lines;
//                                      optionally one report per value of a column, pivoted long → wide
//
// Running the same input with the same parameters twice commits nothing. Silver, quarantine and gold are
// pure functions of bronze (and the parameters), recomputed whole when bronze changes: batch jobs are
// small; the streaming pipelines are the incremental path.
//
// Thread model: one thread per run.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "source/file/csv_reader.h"

namespace lakestream {

struct JobParam {
  std::string name, default_value, pattern, example;
};

struct JobExpectation {
  std::string name, condition;  // a SQL condition over the decoded input; false → quarantined
};

struct JobPivot {
  std::string key, value, order_by;  // long rows (…, key, value, order_by) → one column per key
};

struct JobSpec {
  std::string file, dir;  // the job file, and its directory (inputs are relative to it)
  std::string name, description;
  std::string input_format;                 // "csv" (header line) or "json" (array or JSON lines)
  /// CSV: whether the last record may lack a line break ([input].last_line_break = "optional"). By
  /// default it is "required", since a file cut inside its last value cannot be told apart otherwise.
  bool last_line_break_optional = false;
  std::vector<std::string> default_inputs;  // paths or globs, relative to dir
  std::vector<JobParam> params;
  std::string bronze_table, silver_table, gold_table;  // locations under the lakehouse, e.g. "silver/invoices"
  std::vector<std::string> silver_key;                 // SQL expressions over the input; empty: every record
  std::vector<JobExpectation> expectations;
  std::string silver_sql, gold_sql, output_sql;
  std::vector<std::string> gold_partition_by;  // parameter names
  std::string split_by;                        // output: one report per value of this column
  std::optional<JobPivot> pivot;
  bool yes_no_booleans = false;
  std::string QuarantineTable() const { return silver_table + "_quarantine"; }
};

/// Parses a job file. Every problem is reported, each as "file:line: what — how to fix": unknown keys,
/// a missing table, format or SQL, a bad parameter name or pattern, partition_by naming no parameter, a
/// pivot without key/value/order_by. Errors: InvalidArgument (all problems), NotFound/IoError for the file.
Result<JobSpec> LoadJobSpec(const std::string& path);

/// The job file for `name_or_path`: a path ending in ".toml", else <jobs_dir>/<name>.toml, looked up
/// from the working directory and then beside the binary (config/bundled_files.h).
/// Errors: NotFound listing the jobs in jobs_dir.
Result<std::string> FindJobFile(const std::string& name_or_path, const std::string& jobs_dir);

struct JobRunOptions {
  std::string lakehouse = "./lakehouse";
  std::vector<std::string> inputs;            // paths or globs; empty: the job's default inputs
  std::map<std::string, std::string> params;  // overrides of the parameters' defaults
};

struct JobRunResult {
  std::map<std::string, std::string> params;  // every parameter's value for this run
  int64_t files_landed = 0, files_already_landed = 0;
  int64_t records_landed = 0;
  int64_t quarantined_from_this_run = 0;  // records of the files landed now that were quarantined
  int64_t quarantined_total = 0;
  int64_t silver_rows = 0, gold_rows = 0;
  int64_t bronze_version = -1, silver_version = -1, gold_version = -1;
  bool silver_committed = false, gold_committed = false;
  std::vector<std::string> quarantine_samples;  // "file #record (line N): rules — reason", at most 5
};

/// Lands the inputs in bronze, brings silver and quarantine up to bronze, and gold up to silver for
/// the run's parameters. Errors: InvalidArgument for an unknown parameter, a value that does not match
/// its pattern (names both), an input that matches no file; the job's SQL errors (DuckDB's message,
/// naming the layer); storage and Delta errors (naming the table). Bad records are not errors: they are
/// quarantined and counted.
Result<JobRunResult> RunJob(const JobSpec& spec, const JobRunOptions& options);

enum class JobOutputFormat { kHuman, kCsv, kJson };
/// "human", "csv" or "json". Errors: InvalidArgument naming the accepted values.
Result<JobOutputFormat> ParseJobOutputFormat(std::string_view text);

/// Writes the job's output for `params` (as RunJob returned them) over the current gold snapshot.
/// human: one Markdown-style table per report, decimals in pt-BR ("56.333,33"), null as "null",
/// tables separated by a blank line; csv: RFC 4180 with a header, plain decimals, null empty, reports
/// separated by a blank line; json: JSON lines, numbers and booleans bare, null as null.
/// `sink` returns false to stop. Errors: the output SQL's (DuckDB's message).
Status WriteJobOutput(const JobSpec& spec, const std::string& lakehouse, const std::map<std::string, std::string>& params,
                      JobOutputFormat format, const std::function<bool(std::string_view)>& sink);

/// Splits the text of a JSON input file into records: the elements of a top-level array, else one per
/// non-empty line (JSON lines). Each record is its exact text and the line it starts on. A malformed
/// element stays one record (its JSON check fails later); an unterminated array or string makes the
/// rest of the file one record. Pure. (CSV files are cut by source/file/csv_reader.h, SplitCsvRecords.)
using InputRecord = TextRecord;  // its text and first line (1-based)
std::vector<InputRecord> SplitJsonRecords(std::string_view text);
/// OK when `text` (an input file of `format` "csv" or "json") is whole: a JSON array ends with its
/// ']'; a CSV closes its last quoted field and, unless `last_line_break_optional`, ends its last record
/// with a line break. Errors: Corruption naming `name`, the line and byte offset, and the fix.
Status CheckInputComplete(const std::string& name, std::string_view text, const std::string& format,
                          bool last_line_break_optional);

}  // namespace lakestream
