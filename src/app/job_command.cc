#include "app/job_command.h"

#include "config/bundled_files.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "jobs/batch_job.h"

namespace lakestream {

namespace {

struct JobOptions {
  std::string job;
  std::string jobs_dir = "jobs";
  std::string lakehouse = "./lakehouse";
  std::vector<std::string> inputs;
  std::vector<std::string> params;
  std::string format = "human";
  std::string output;
  std::vector<std::string> files;  // validate
  CLI::App *run = nullptr, *list = nullptr, *validate = nullptr;
};

JobOptions& Opts() {
  static JobOptions o;
  return o;
}

int Fail(const Status& st, int code = 1) {
  std::fprintf(stderr, "lakestream job: %s\n", st.message().c_str());
  return code;
}

int Run(JobOptions& o) {
  auto file = FindJobFile(o.job, o.jobs_dir);
  if (!file.ok()) return Fail(file.status(), 2);
  auto spec = LoadJobSpec(*file);
  if (!spec.ok()) return Fail(spec.status(), 2);
  auto format = ParseJobOutputFormat(o.format);
  if (!format.ok()) return Fail(format.status(), 2);
  JobRunOptions ro;
  ro.lakehouse = o.lakehouse;
  ro.inputs = o.inputs;
  for (const auto& kv : o.params) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(InvalidArgument("--param {}: write NAME=VALUE, e.g. --param reference_month=2020-01", kv), 2);
    }
    ro.params[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto result = RunJob(*spec, ro);
  if (!result.ok()) return Fail(result.status(), result.status().code() == StatusCode::kInvalidArgument ? 2 : 1);
  const JobRunResult& r = *result;
  std::string params;
  for (const auto& [k, v] : r.params) params += fmt::format(" {}={}", k, v);
  std::fprintf(stderr,
               "job %s%s: %lld input file(s) landed (%lld records), %lld already landed; bronze v%lld, silver v%lld "
               "(%lld rows%s), gold v%lld (%lld rows%s); quarantined %lld from this run, %lld in all\n",
               spec->name.c_str(), params.c_str(), static_cast<long long>(r.files_landed),
               static_cast<long long>(r.records_landed), static_cast<long long>(r.files_already_landed),
               static_cast<long long>(r.bronze_version), static_cast<long long>(r.silver_version),
               static_cast<long long>(r.silver_rows), r.silver_committed ? ", recomputed" : ", unchanged",
               static_cast<long long>(r.gold_version), static_cast<long long>(r.gold_rows),
               r.gold_committed ? ", committed" : ", unchanged", static_cast<long long>(r.quarantined_from_this_run),
               static_cast<long long>(r.quarantined_total));
  for (const auto& s : r.quarantine_samples) std::fprintf(stderr, "  quarantined: %s\n", s.c_str());
  std::ofstream file_out;
  if (!o.output.empty()) {
    file_out.open(o.output, std::ios::binary | std::ios::trunc);
    if (!file_out) return Fail(IoError("cannot write {}: check the directory exists and is writable", o.output));
  }
  std::ostream& out = o.output.empty() ? std::cout : file_out;
  Status st = WriteJobOutput(*spec, o.lakehouse, r.params, *format, [&](std::string_view text) {
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    return static_cast<bool>(out);
  });
  out.flush();
  if (!st.ok()) return Fail(st);
  if (r.quarantined_from_this_run > 0) {
    std::fprintf(stderr, "lakestream job: %lld record(s) of this run's inputs were quarantined (table %s); exit code 3\n",
                 static_cast<long long>(r.quarantined_from_this_run), spec->QuarantineTable().c_str());
    return 3;
  }
  return 0;
}

}  // namespace

CLI::App* AddJobCommand(CLI::App& app) {
  JobOptions& o = Opts();
  auto* job = app.add_subcommand("job", "Batch jobs declared in jobs/*.toml: input → bronze → silver → gold → report "
                                        "(docs/jobs.md)");
  job->require_subcommand(1);
  o.run = job->add_subcommand("run", "Run a job: land new inputs in bronze (once per file checksum), recompute silver "
                                     "and gold, print the output");
  o.run->add_option("job", o.job, "The job's name (jobs/NAME.toml) or a job file")->required();
  o.run->add_option("--input", o.inputs, "An input file or glob (repeatable) [default: the job's [input].default]")
      ->type_name("path");
  o.run->add_option("--param", o.params, "A parameter, NAME=VALUE (repeatable), e.g. reference_month=2020-01")
      ->type_name("NAME=VALUE");
  o.run->add_option("--lakehouse,--lake", o.lakehouse, "Root of the lakehouse: a directory or an Azure location (az://…, abfss://…; docs/storage.md) [default ./lakehouse]")->type_name("path");
  o.run->add_option("--jobs-dir", o.jobs_dir, "Where job files live [default ./jobs, else the jobs shipped beside the binary]")->type_name("path");
  o.run->add_option("--format", o.format, "human (pt-BR numbers), csv or json (JSON lines) [default human]")
      ->type_name("FORMAT");
  o.run->add_option("--output", o.output, "Write the output to this file instead of standard output")->type_name("path");
  o.list = job->add_subcommand("list", "List the jobs in --jobs-dir with their descriptions");
  o.list->add_option("--jobs-dir", o.jobs_dir, "Where job files live [default ./jobs, else the jobs shipped beside the binary]")->type_name("path");
  o.validate = job->add_subcommand("validate", "Check job files; every error with its line");
  o.validate->add_option("files", o.files, "Job files")->required();
  return job;
}

int RunJobCommand() {
  JobOptions& o = Opts();
  if (o.run->parsed()) return Run(o);
  if (o.list->parsed()) {
    std::error_code ec;
    std::vector<std::string> files;
    const std::string dir = FindBundled(o.jobs_dir).value_or(o.jobs_dir);  // jobs/ ships beside the binary
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".toml") files.push_back(e.path().string());
    }
    if (ec) return Fail(NotFound("no jobs directory {}: pass --jobs-dir DIR", o.jobs_dir), 2);
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto spec = LoadJobSpec(f);
      if (spec.ok()) std::printf("%-12s %s\n", spec->name.c_str(), spec->description.c_str());
      else std::printf("%-12s (invalid: lakestream job validate %s)\n", f.c_str(), f.c_str());
    }
    return 0;
  }
  int rc = 0;
  for (const auto& f : o.files) {
    auto spec = LoadJobSpec(f);
    if (spec.ok()) {
      std::printf("%s: ok (job %s)\n", f.c_str(), spec->name.c_str());
    } else {
      std::fprintf(stderr, "%s\n", spec.status().message().c_str());
      rc = 1;
    }
  }
  return rc;
}

}  // namespace lakestream
