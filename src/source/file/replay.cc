#include "source/file/replay.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <thread>

#include "common/time.h"
#include "format/json_schema.h"
#include "format/order_event.h"
#include "source/file/order_csv.h"

namespace lakestream {

std::string DefaultSourceName(const std::string& input) {
  return std::filesystem::path(input).filename().string();
}

Replay::Replay(ReplayOptions options, KafkaProducer* producer, std::function<int64_t()> lag_bytes,
               std::set<int64_t> skip_lines)
    : options_(std::move(options)),
      producer_(producer),
      lag_bytes_(std::move(lag_bytes)),
      skip_lines_(std::move(skip_lines)) {
  if (options_.source_name.empty()) options_.source_name = DefaultSourceName(options_.input);
}

Status Replay::Run(const std::atomic<bool>& stop) {
  auto zone = TimeZoneRule::Parse(options_.timezone);
  if (!zone) return InvalidArgument("unsupported --timezone '{}': use UTC, Europe/London or +HH:MM", options_.timezone);
  ASSIGN_OR_RETURN(auto reader, OrderCsvReader::Open(options_.input));
  // The producer side validates against the same contract as the consumer. An event that breaks it
  // is still published (silver quarantines it with the rule), so nothing is lost; it is counted here.
  ASSIGN_OR_RETURN(JsonSchema contract, JsonSchema::Parse(OrderEventSchemaText()));
  simdjson::dom::parser parser;
  spdlog::info("replaying {} ({} header) as source '{}'", options_.input, reader->dialect(), options_.source_name);
  OrderLine line;
  int64_t line_no = 0;
  bool fields_ok = true;
  int64_t wall_start_ms = MonotonicMillis();
  std::optional<int64_t> first_event_us;
  int64_t paced = 0;
  for (;;) {
    if (stop.load()) break;
    if (options_.max_events > 0 && counters_.produced.load() >= options_.max_events) break;
    ASSIGN_OR_RETURN(bool has, reader->Next(&line, &line_no, &fields_ok));
    if (!has) break;
    counters_.lines_read++;
    if (skip_lines_.count(line_no) != 0) {
      counters_.skipped_committed++;
      continue;
    }
    OrderEnvelope env;
    env.event_id = EventIdForSourceLine(options_.source_name, line_no);
    env.event_time_us = ParseEventTimeMicros(line.date, *zone);
    env.source_name = options_.source_name;
    env.source_line = line_no;
    std::string payload = EncodeOrderEvent(line, env);
    simdjson::dom::element doc;
    Status valid = parser.parse(payload).get(doc) == simdjson::SUCCESS
                       ? contract.Validate(doc)
                       : InvalidArgument("encoded event is not JSON");
    if (!fields_ok && valid.ok()) valid = InvalidArgument("wrong number of CSV fields");
    if (!valid.ok()) {
      if (counters_.contract_violations++ < 20) {
        spdlog::warn("{} data line {}: {}; published as is for silver to quarantine", options_.input, line_no,
                     valid.message());
      }
    }
    // Pacing.
    int64_t due_ms = -1;
    if (options_.rate && *options_.rate > 0) {
      due_ms = wall_start_ms + static_cast<int64_t>(static_cast<double>(paced) * 1000.0 / *options_.rate);
    } else if (options_.rate && env.event_time_us) {
      if (!first_event_us) first_event_us = env.event_time_us;
      due_ms = wall_start_ms +
               static_cast<int64_t>(static_cast<double>(*env.event_time_us - *first_event_us) / 1000.0 / options_.speedup);
    }
    if (due_ms > 0) {
      int64_t now = MonotonicMillis();
      if (due_ms > now + 1) {
        producer_->Poll(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(due_ms - now));
      }
    }
    // Backpressure: wait while the pipeline has not committed enough of what was produced.
    if ((paced & 63) == 0) {
      int64_t waited_from = MonotonicMillis();
      while (!stop.load() && lag_bytes_() > options_.max_lag_bytes) {
        producer_->Poll(10);
      }
      int64_t waited = MonotonicMillis() - waited_from;
      if (waited > 0) {
        counters_.backpressure_ms += waited;
        wall_start_ms += waited;  // do not burst to catch up after being held back
      }
    }
    RETURN_IF_ERROR(producer_->Produce(line.transaction_no, payload));
    ++paced;
    counters_.produced++;
    if (env.event_time_us) counters_.event_time_us = *env.event_time_us;
    if ((paced & 255) == 0) producer_->Poll(0);
  }
  RETURN_IF_ERROR(producer_->Flush(60000));
  counters_.done = true;
  return Status::OK();
}

}  // namespace lakestream
