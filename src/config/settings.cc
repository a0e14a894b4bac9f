#include "config/settings.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

namespace lakestream {

std::string SettingDef::EnvVar() const {
  std::string s = "LAKESTREAM_";
  for (const char* p = name; *p; ++p) {
    char c = *p;
    s.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return s;
}

const std::vector<SettingDef>& AllSettings() {
  static const std::vector<SettingDef> kSettings = {
      {"lake.root", "--lakehouse", SettingType::kString, "./lakehouse", "path", "run, ingest, broker, produce, dlq-replay, dlq-export, serve, rebuild",
       "Root of the lakehouse: a directory or an Azure location (az://<container>/<path>, "
       "abfss://<container>@<account>.dfs.core.windows.net/<path>; docs/storage.md). Tables are written under "
       "bronze/, silver/ and gold/ below it; the broker file (_broker) of a local lakehouse lives there too."},
      {"kafka.brokers", "--brokers", SettingType::kString, "", "host:port[,…]", "run, produce, ingest, dlq-replay",
       "Bootstrap servers of an external Kafka cluster (Kafka, Confluent, Event Hubs). Empty: `run` starts the "
       "embedded broker; `produce`/`ingest` read the address from the broker file."},
      {"kafka.topic", "--topic", SettingType::kString, "", "", "run, produce, ingest, broker, dlq-replay",
       "Topic the pipeline reads. Empty: the pipeline file's [source] topic (orders for the built-in pipeline)."},
      {"kafka.partitions", "--partitions", SettingType::kInt, "4", "partitions", "run, broker, bench",
       "Partitions of the topic on the embedded broker.", 1},
      {"kafka.group_id", "--group", SettingType::kString, "", "", "run, ingest, produce, dlq-replay",
       "Consumer group of the pipeline (produce and dlq replay use it to measure lag for backpressure). Empty: the "
       "pipeline file's [source] group_id (lakestream-<name>, e.g. lakestream-orders)."},
      {"kafka.group_instance_id", "--group-instance-id", SettingType::kString, "", "", "run, ingest",
       "Static group membership (KIP-345, Kafka 2.3+) on an external cluster: a restarted member takes its place "
       "back at once instead of waiting for the group to expel the old session. Empty: "
       "lakestream-<group>-<host>-<hash of lake.root>, stable across restarts and unique per machine and lakehouse; "
       "`none`: no static membership (brokers before 2.3). On the embedded broker, which does not support it, "
       "members use 4 s sessions and the broker removes members whose connection died (docs/reliability.md, \"Restarts\")."},
      {"kafka.broker_file", "--broker-file", SettingType::kString, "", "path", "run, broker, produce, ingest, dlq-replay",
       "File where the embedded broker's address is written (and read by produce/ingest). Default: "
       "<lake.root>/_broker, or <tmp>/lakestream-broker-<location> when lake.root is an Azure location."},
      {"source.epoch", "--source-epoch", SettingType::kString, "", "", "ingest",
       "Scope of the Kafka offsets stored in the Delta txn actions. Change it only when the topic was recreated "
       "and offsets restarted; `run` sets it to the embedded broker's epoch."},
      {"source.accept_data_loss", "--accept-data-loss", SettingType::kString, "", "[topic:]partition:from-to[,…]",
       "run, ingest",
       "Accept recorded data loss: offsets the broker no longer had when the pipeline needed them (evicted by the "
       "embedded broker, or deleted by retention). Each gap stops every start until named here exactly as the "
       "error printed it, e.g. 2:1000-5009; the acceptance is committed to bronze's Delta log and consumption "
       "resumes after the gap. With several pipelines, prefix the topic (orders:2:1000-5009). "
       "docs/reliability.md."},
      {"replay.input", "--input", SettingType::kString,
       "data/online-shop/online_retail.combined-305-by-day-files.FULL-541909-rows.csv.gz", "path", "run, produce, bench",
       "CSV (or .csv.gz) in the online-shop model to replay; either header dialect (Kaggle or UCI). A relative path "
       "missing from the working directory is looked up beside the binary (share/lakestream/, or the source tree)."},
      {"replay.source_name", "--source-name", SettingType::kString, "", "", "run, produce",
       "Name of the replayed source in each event; event ids derive from it and the line number. Default: the "
       "input file's name."},
      {"replay.rate", "--rate", SettingType::kRate, "", "events/s", "run, produce",
       "Replay pace: events per second, or `max` for as fast as backpressure allows. Overrides --speedup. For a "
       "generated pipeline: the day's average rate (default 1157/s, 100 million a day), shaped by the daily curve."},
      {"replay.speedup", "--speedup", SettingType::kDouble, "250000", "factor", "run, produce",
       "Replay pace over event time: 250000 plays a year in about two minutes (gaps without orders, such as "
       "nights, pass at the same speed)."},
      {"replay.timezone", "--timezone", SettingType::kString, "Europe/London", "", "run, produce, ingest, bench, rebuild",
       "Time zone of local date-times in the source (UTC, Europe/London or +HH:MM)."},
      {"replay.max_lag_bytes", "--max-lag-bytes", SettingType::kInt, "2097152", "bytes",
       "run, ingest, produce, dlq-replay, bench",
       "Backpressure: the replay waits while any partition holds more than this many bytes not yet committed to "
       "bronze. Keep it well under the embedded broker's 5 MiB per partition. Ingest commits a micro-batch early "
       "once one partition holds half of it, so a paced producer never waits for the commit interval.", 65536},
      {"pipeline.commit_interval_ms", "--commit-interval-ms", SettingType::kInt, "1000", "ms", "run, ingest, bench",
       "Micro-batch length: bronze and silver commit at least this often while data flows.", 10},
      {"pipeline.max_batch_bytes", "--max-batch-bytes", SettingType::kInt, "8388608", "bytes", "run, ingest, bench",
       "A micro-batch is committed early once it holds this many payload bytes.", 1024},
      {"pipeline.file", "--pipeline", SettingType::kString, "", "path", "run, ingest, produce, broker, dlq-replay, dlq-export, bench, rebuild",
       "Pipeline file (format: docs/pipelines/README.md): source, schema, silver rules, gold tables, sinks, e.g. "
       "pipelines/notifications.toml. run, ingest and broker take a comma-separated list to run several "
       "pipelines in one process, each with its own topic, group and tables. Empty: the built-in copy of "
       "pipelines/orders.toml."},
      {"generator.limit", "--limit", SettingType::kInt, "0", "events", "run, produce",
       "Stop the source after this many events: the replay of the orders input, or the generator of a generated "
       "pipeline (notifications); `run` then commits everything and exits (0: the whole input, or generate "
       "until Ctrl-C).", 0},
      {"generator.seed", "--seed", SettingType::kInt, "1", "", "run, produce",
       "Generated pipelines: random seed; the same seed and settings produce the same events.", 0},
      {"generator.start", "--start", SettingType::kString, "", "ISO 8601", "run, produce",
       "Generated pipelines: simulate event time from this instant (e.g. 2020-02-03T00:00:00Z), spreading "
       "generator.events_per_day events over each day along the daily curve. Empty: event time is the wall clock."},
      {"generator.events_per_day", "--events-per-day", SettingType::kInt, "100000000", "events", "run, produce",
       "Generated pipelines with --start: events in one simulated day.", 1},
      {"generator.customers", "--customers", SettingType::kInt, "5000", "customers", "run, produce",
       "Generated pipelines: number of customers (Zipf-skewed volumes).", 1},
      {"pipeline.dlq_topic", "--dlq-topic", SettingType::kString, "", "topic", "run, ingest",
       "Dead-letter topic: every quarantined record is also produced there (e.g. orders.dlq) with headers naming "
       "the failed rules, the reason, and the original topic, partition, offset and time. Empty: the pipeline file's "
       "[source] dead_letter_topic, else off. With several pipelines, set it in each file instead."},
      {"pipeline.writer_lease_ms", "--writer-lease-ms", SettingType::kInt, "15000", "ms", "run, ingest, bench, rebuild",
       "One process writes a pipeline's tables at a time: it holds a lease recorded in the lakehouse "
       "(_lakestream/leases/<pipeline>/), renewed every third of this. A second process is refused before it "
       "writes anything; it may take over once the lease expires, or at once when the holder was a process of the "
       "same machine that no longer runs (docs/reliability.md).", 1000},
      {"pipeline.gold_interval_ms", "--gold-interval-ms", SettingType::kInt, "5000", "ms", "run, ingest, bench",
       "Gold tables are brought up to date with silver (incrementally) at most this often, and once at the end; a silver commit reaches gold within this time whether or not more records arrive.", 0},
      {"lake.auto_compact_min_files", "--auto-compact-min-files", SettingType::kInt, "50", "files", "run, ingest, bench",
       "Automatic compaction: when a bronze or silver table holds more than this many small files (under an "
       "eighth of lake.target_file_size_bytes), the pipeline compacts those into files near the target size; "
       "larger files are left alone, so each row is compacted once (0: never). Bronze compacts on a thread of its "
       "own (with its own DuckDB instance), silver and quarantine after a gold refresh.", 0},
      {"lake.target_file_size_bytes", "--target-file-size", SettingType::kInt, "134217728", "bytes", "run, ingest, bench",
       "Target size of the files written by compaction (OPTIMIZE).", 1048576},
      {"run.follow", "--follow", SettingType::kBool, "false", "", "run, ingest",
       "Keep consuming after the replay ends, until Ctrl-C (SIGINT/SIGTERM), then commit and exit cleanly."},
      {"run.idle_exit_ms", "--idle-exit-ms", SettingType::kInt, "0", "ms", "ingest",
       "`ingest` without --follow exits after this long without new records (0: 5000 ms).", 0},
      {"progress.interval_ms", "--progress-interval-ms", SettingType::kInt, "1000", "ms", "run, produce, ingest, dlq-replay, bench",
       "How often a progress line is printed.", 100},
      {"http.listen", "--http", SettingType::kString, "127.0.0.1:8080", "host:port", "run, ingest, serve",
       "Where the dashboard, the JSON API, the event stream and /metrics listen (docs/api.md). Port 0 picks a free "
       "one. An address other than loopback needs an access token (http.token_file or LAKESTREAM_HTTP_TOKEN)."},
      {"http.disabled", "--no-http", SettingType::kBool, "false", "", "run, ingest",
       "Do not start the HTTP server."},
      {"http.token_file", "--http-token-file", SettingType::kString, "", "path", "run, ingest, serve",
       "A file holding the access token (at least 16 characters) that every HTTP request but /healthz and /readyz "
       "must carry (Authorization: Bearer …). The environment variable LAKESTREAM_HTTP_TOKEN is the alternative. "
       "Required when http.listen is not a loopback address."},
      {"http.allowed_hosts", "--http-allowed-hosts", SettingType::kString, "", "host[,…]", "run, ingest, serve",
       "Host names the server answers to besides IP addresses and localhost, e.g. the name of a reverse proxy in "
       "front of it (comma-separated). A request whose Host (or a POST whose Origin) names any other host is "
       "refused with 403: a web page cannot reach the API by rebinding its own name to this machine (DNS "
       "rebinding)."},
      {"http.max_connections", "--http-max-connections", SettingType::kInt, "1024", "connections",
       "run, ingest, serve",
       "Open connections allowed at once; more are answered 503 and closed before they reach a worker.", 1},
      {"http.max_connections_per_ip", "--http-max-connections-per-ip", SettingType::kInt, "300", "connections",
       "run, ingest, serve", "Open connections allowed from one client address; more are answered 503 and closed.",
       1},
      {"http.header_timeout_ms", "--http-header-timeout-ms", SettingType::kInt, "10000", "ms", "run, ingest, serve",
       "A connection must send a request's whole header within this long (and an idle keep-alive connection is "
       "closed after it). Headers are awaited without a worker thread, so slow clients cannot starve the others.",
       100},
      {"http.body_timeout_ms", "--http-body-timeout-ms", SettingType::kInt, "30000", "ms", "run, ingest, serve",
       "A request's body must arrive within this long after its header.", 100},
      {"http.secure_cookie", "--http-secure-cookie", SettingType::kBool, "false", "", "run, ingest, serve",
       "Mark the session cookie Secure (sent over HTTPS only): set it when TLS terminates in front of lakestream. "
       "It is also set when a request says X-Forwarded-Proto: https."},
      {"http.session_max_age_s", "--http-session-max-age-s", SettingType::kInt, "86400", "s", "run, ingest, serve",
       "Lifetime of the session cookie a dashboard link with ?access_token= sets (Max-Age).", 60},
      {"http.max_stream_clients", "--http-max-stream-clients", SettingType::kInt, "256", "clients", "run, ingest, serve",
       "Open /api/v1/stream connections allowed at once; more get 503. Each holds one server thread.", 1},
      {"duckdb.threads", "--duckdb-threads", SettingType::kInt, "1", "threads", "run, ingest, bench, rebuild",
       "DuckDB worker threads used to write Parquet and recompute gold.", 1},
      {"duckdb.memory_limit", "--duckdb-memory-limit", SettingType::kString, "1GB", "bytes (DuckDB syntax)",
       "run, ingest, bench, rebuild", "Memory limit of each DuckDB instance: a pipeline has two (its own and its bronze "
       "compactor's), `sql`/`serve` one."},
      {"azure.account_name", "--azure-account-name", SettingType::kString, "", "", "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Azure storage account of az:// lake locations (abfss://<container>@<account>.dfs.core.windows.net names it "
       "itself). Empty: AZURE_STORAGE_ACCOUNT_NAME. docs/storage.md."},
      {"azure.account_key_file", "--azure-account-key-file", SettingType::kString, "", "path",
       "run, ingest, serve, dlq-export, sql, table, rebuild",
       "A file holding the account's shared key (SharedKey signing). Empty: AZURE_STORAGE_ACCOUNT_KEY. Never "
       "logged."},
      {"azure.sas_token_file", "--azure-sas-token-file", SettingType::kString, "", "path", "run, ingest, serve, dlq-export, sql, table, rebuild",
       "A file holding a SAS token (needs read, add, create, write, delete and list on the container). Empty: "
       "AZURE_STORAGE_SAS_TOKEN. Never logged."},
      {"azure.bearer_token_file", "--azure-bearer-token-file", SettingType::kString, "", "path",
       "run, ingest, serve, dlq-export, sql, table, rebuild",
       "A file holding an Azure AD access token for https://storage.azure.com/ (e.g. from `az account "
       "get-access-token --resource https://storage.azure.com/`), re-read at start-up only. Empty: "
       "AZURE_STORAGE_TOKEN. Never logged."},
      {"azure.endpoint", "--azure-endpoint", SettingType::kString, "", "URL", "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Blob service URL for sovereign clouds or the emulator (http://127.0.0.1:10000/devstoreaccount1). Empty: "
       "AZURE_STORAGE_ENDPOINT, else https://<account>.blob.core.windows.net."},
      {"azure.use_emulator", "--azure-use-emulator", SettingType::kBool, "false", "", "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Use Azurite's development account, key and endpoint (as AZURE_STORAGE_USE_EMULATOR=true)."},
      {"azure.cache_dir", "--azure-cache-dir", SettingType::kString, "", "path", "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Local cache of Parquet data files and checkpoints read from or written to Azure (DuckDB reads local "
       "files). Empty: LAKESTREAM_AZURE_CACHE_DIR, else <tmp>/lakestream-azure-cache."},
      {"azure.cache_max_bytes", "--azure-cache-max-bytes", SettingType::kInt, "4294967296", "bytes",
       "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Above this size the cache drops its least recently used files (none used in the last minute).", 1048576},
      {"azure.block_size_bytes", "--azure-block-size-bytes", SettingType::kInt, "8388608", "bytes",
       "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Files larger than this upload in blocks of this size (Put Block, Put Block List); ranged reads fetch this "
       "much per request.", 65536},
      {"azure.upload_concurrency", "--azure-upload-concurrency", SettingType::kInt, "4", "blocks",
       "run, ingest, serve, dlq-export, sql, table, rebuild",
       "Blocks of one file in flight at once; memory for an upload is this times azure.block_size_bytes.", 1},
      {"azure.retry_budget_ms", "--azure-retry-budget-ms", SettingType::kInt, "60000", "ms", "run, ingest, serve, dlq-export, sql, table, rebuild",
       "How long one storage operation may keep retrying 429, 5xx and network errors (exponential backoff with "
       "jitter, Retry-After honoured) before it fails.", 0},
      {"log.level", "--log-level", SettingType::kString, "info", "", "all",
       "Log level: trace, debug, info, warn, error."},
  };
  return kSettings;
}

namespace {
const SettingDef& Find(const std::string& name) {
  for (const auto& d : AllSettings()) {
    if (name == d.name) return d;
  }
  throw std::logic_error("unknown setting " + name);
}
}  // namespace

Settings Settings::FromEnvironment() {
  Settings s;
  for (const auto& d : AllSettings()) {
    s.values_[d.name] = d.default_value;
    if (const char* v = std::getenv(d.EnvVar().c_str())) s.values_[d.name] = v;
  }
  return s;
}

void Settings::Set(const std::string& name, const std::string& value) {
  Find(name);
  values_[name] = value;
}

bool Settings::IsSet(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

Status Settings::Validate() const {
  for (const auto& d : AllSettings()) {
    const std::string& v = values_.at(d.name);
    auto bad = [&](const std::string& expect) {
      return InvalidArgument("invalid value '{}' for {} ({}, env {}): expected {}", v, d.flag, d.name, d.EnvVar(),
                             expect);
    };
    if (v.empty()) continue;
    switch (d.type) {
      case SettingType::kInt: {
        char* end = nullptr;
        errno = 0;
        long long x = std::strtoll(v.c_str(), &end, 10);
        if (*end != '\0') return bad("a whole number");
        if (errno == ERANGE) return bad("a whole number that fits in 64 bits");
        if (x < d.min_int) return bad(fmt::format("a whole number >= {}", d.min_int));
        break;
      }
      case SettingType::kDouble: {
        char* end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (*end != '\0' || !(x > 0)) return bad("a positive number");
        break;
      }
      case SettingType::kRate: {
        if (v == "max") break;
        char* end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (*end != '\0' || !(x > 0)) return bad("events per second (a positive number) or 'max'");
        break;
      }
      case SettingType::kBool:
        if (v != "true" && v != "false" && v != "1" && v != "0") return bad("true or false");
        break;
      case SettingType::kString: break;
    }
  }
  return Status::OK();
}

std::string Settings::GetString(const std::string& name) const { Find(name); return values_.at(name); }
int64_t Settings::GetInt(const std::string& name) const { return std::stoll(GetString(name)); }
double Settings::GetDouble(const std::string& name) const { return std::stod(GetString(name)); }
bool Settings::GetBool(const std::string& name) const {
  std::string v = GetString(name);
  return v == "true" || v == "1";
}
std::optional<double> Settings::GetRate(const std::string& name) const {
  std::string v = GetString(name);
  if (v == "max") return std::nullopt;
  if (v.empty()) return 0.0;
  return std::stod(v);
}

std::string GenerateConfigurationMarkdown() {
  std::string out =
      "# Configuration\n\n"
      "<!-- Generated by `lakestream config docs` from src/config/settings.cc; do not edit by hand. "
      "A test fails when this file is stale. -->\n\n"
      "Every setting has a command-line flag and an environment variable. Precedence: flag > environment > "
      "default. A bad value stops the process at start-up with a message naming the flag and the expected "
      "form.\n\n"
      "Kafka client properties (librdkafka's, e.g. `security.protocol`, `sasl.mechanism`, `sasl.username`, "
      "`ssl.ca.location`) pass through unchanged with `-K key=value` (repeatable), as kcat and "
      "kafka-delta-ingest do. Secrets given that way are never logged.\n\n"
      "| Setting | Flag | Environment variable | Type | Default | Unit | Commands | Description |\n"
      "|---|---|---|---|---|---|---|---|\n";
  auto type_name = [](SettingType t) {
    switch (t) {
      case SettingType::kString: return "string";
      case SettingType::kInt: return "integer";
      case SettingType::kDouble: return "number";
      case SettingType::kBool: return "boolean";
      case SettingType::kRate: return "number or `max`";
    }
    return "string";
  };
  for (const auto& d : AllSettings()) {
    std::string def = *d.default_value ? fmt::format("`{}`", d.default_value) : "(unset)";
    out += fmt::format("| `{}` | `{}` | `{}` | {} | {} | {} | {} | {} |\n", d.name, d.flag, d.EnvVar(),
                       type_name(d.type), def, *d.unit ? d.unit : "", d.commands, d.description);
  }
  return out;
}

}  // namespace lakestream
