#include "pipeline/data_loss.h"

#include <unistd.h>

#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {

namespace {

constexpr const char* kOpen = "/data-loss/";
constexpr const char* kAccepted = "/data-loss-accepted/";

std::string Thousands(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string Tail(const std::string& topic, int32_t partition, const std::string& epoch, int64_t from) {
  return topic + "/" + std::to_string(partition) + "/" + epoch + "/" + std::to_string(from);
}

// Splits "<prefix><marker><topic>/<p>/<epoch>/<from>"; false when `app_id` is not one.
bool ParseAppId(const std::string& app_id, const char* marker, DataLossGap* g) {
  const size_t at = app_id.find(marker);
  if (at == std::string::npos || app_id.rfind("lakestream-", 0) != 0) return false;
  g->pipeline = app_id.substr(11, at - 11);
  std::vector<std::string> parts;
  size_t pos = at + std::string(marker).size();
  for (;;) {
    const size_t slash = app_id.find('/', pos);
    parts.push_back(app_id.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  if (parts.size() != 4) return false;
  char* end = nullptr;
  g->topic = parts[0];
  g->partition = static_cast<int32_t>(std::strtol(parts[1].c_str(), &end, 10));
  if (parts[1].empty() || *end != '\0') return false;
  g->epoch = parts[2];
  g->from_offset = std::strtoll(parts[3].c_str(), &end, 10);
  return !parts[3].empty() && *end == '\0';
}

std::string Operator() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const char* user = std::getenv("USER");
  return std::string(user && *user ? user : "unknown") + "@" + host;
}

}  // namespace

std::string DataLossGap::Spec() const {
  return fmt::format("{}:{}-{}", partition, from_offset, to_offset);
}

std::string DataLossGap::Describe() const {
  return fmt::format("{}[{}] offsets {}-{} ({} records{}), seen {}", topic, partition, from_offset, to_offset,
                     Thousands(records()), epoch.empty() ? "" : ", embedded broker epoch " + epoch,
                     FormatTimestampIso(seen_at_ms * 1000));
}

std::vector<DataLossGap> DataLossGapsOf(const Snapshot& bronze) {
  std::map<std::string, DataLossGap> gaps;  // by tail
  for (const auto& [app_id, txn] : bronze.txns) {
    DataLossGap g;
    if (ParseAppId(app_id, kOpen, &g)) {
      g.to_offset = txn.version;
      g.seen_at_ms = txn.last_updated_ms;
      auto& slot = gaps[Tail(g.topic, g.partition, g.epoch, g.from_offset)];
      const bool accepted = slot.accepted;
      const int64_t accepted_at = slot.accepted_at_ms;
      slot = g;
      slot.accepted = accepted;
      slot.accepted_at_ms = accepted_at;
    } else if (ParseAppId(app_id, kAccepted, &g)) {
      auto& slot = gaps[Tail(g.topic, g.partition, g.epoch, g.from_offset)];
      if (slot.topic.empty()) {  // the open record comes later in appId order
        slot = g;
        slot.to_offset = txn.version;
      }
      slot.accepted = true;
      slot.accepted_at_ms = txn.last_updated_ms;
    }
  }
  std::vector<DataLossGap> out;
  for (auto& [tail, g] : gaps) out.push_back(std::move(g));
  return out;
}

Status RecordDataLossGap(DeltaTable& bronze, const std::string& app_prefix, const std::string& epoch,
                         const OffsetGap& gap) {
  const std::string app_id = app_prefix + kOpen + Tail(gap.topic, gap.partition, epoch, gap.from_offset);
  if (bronze.snapshot().TxnVersion(app_id)) return Status::OK();
  Transaction txn;
  txn.operation = "DATA LOSS";
  JsonWriter w;
  w.BeginObject().Key("topic").String(gap.topic).Key("partition").String(std::to_string(gap.partition));
  w.Key("sourceEpoch").String(epoch).Key("fromOffset").String(std::to_string(gap.from_offset));
  w.Key("toOffset").String(std::to_string(gap.to_offset));
  w.Key("records").String(std::to_string(gap.to_offset - gap.from_offset + 1)).Key("reason").String(gap.reason);
  w.EndObject();
  txn.operation_parameters_json = w.Take();
  txn.txns.push_back({app_id, gap.to_offset, NowMillis()});
  return bronze.Commit(txn).status();
}

Result<std::vector<DataLossAcceptance>> ParseDataLossAcceptances(const std::string& text) {
  std::vector<DataLossAcceptance> out;
  size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    pos = comma + 1;
    auto bad = [&] {
      return InvalidArgument("--accept-data-loss '{}': write PARTITION:FROM-TO (or TOPIC:PARTITION:FROM-TO), the "
                             "offsets exactly as the data-loss error printed them, e.g. --accept-data-loss 2:1000-5009",
                             item);
    };
    DataLossAcceptance a;
    a.text = item;
    std::string rest = item;
    const size_t last_colon = rest.rfind(':');
    if (last_colon == std::string::npos) return bad();
    const std::string range = rest.substr(last_colon + 1);
    rest = rest.substr(0, last_colon);
    const size_t colon = rest.rfind(':');
    if (colon != std::string::npos) {
      a.topic = rest.substr(0, colon);
      rest = rest.substr(colon + 1);
      if (a.topic->empty()) return bad();
    }
    const size_t dash = range.find('-');
    char* end = nullptr;
    if (rest.empty() || dash == std::string::npos || dash == 0 || dash + 1 == range.size()) return bad();
    a.partition = static_cast<int32_t>(std::strtol(rest.c_str(), &end, 10));
    if (*end != '\0' || a.partition < 0) return bad();
    const std::string from = range.substr(0, dash), to = range.substr(dash + 1);
    a.from_offset = std::strtoll(from.c_str(), &end, 10);
    if (*end != '\0' || a.from_offset < 0) return bad();
    a.to_offset = std::strtoll(to.c_str(), &end, 10);
    if (*end != '\0' || a.to_offset < a.from_offset) return bad();
    out.push_back(std::move(a));
    if (comma == text.size()) break;
  }
  return out;
}

Status SettleDataLossGaps(
    DeltaTable& bronze, const std::string& pipeline, const std::vector<DataLossAcceptance>& accept,
    const std::function<std::string(const std::string&, int32_t, const std::string&)>& partition_app_id) {
  std::vector<bool> used(accept.size(), false);
  const std::string prefix = "lakestream-" + pipeline;
  for (const DataLossGap& g : DataLossGapsOf(bronze.snapshot())) {
    if (g.pipeline != pipeline || g.accepted) continue;
    for (size_t i = 0; i < accept.size(); ++i) {
      const auto& a = accept[i];
      if (a.partition != g.partition || a.from_offset != g.from_offset || a.to_offset != g.to_offset ||
          (a.topic && *a.topic != g.topic)) {
        continue;
      }
      used[i] = true;
      Transaction txn;
      txn.operation = "ACCEPT DATA LOSS";
      JsonWriter w;
      w.BeginObject().Key("topic").String(g.topic).Key("partition").String(std::to_string(g.partition));
      w.Key("sourceEpoch").String(g.epoch).Key("fromOffset").String(std::to_string(g.from_offset));
      w.Key("toOffset").String(std::to_string(g.to_offset)).Key("records").String(std::to_string(g.records()));
      w.Key("acceptedBy").String(Operator()).Key("flag").String("--accept-data-loss " + a.text).EndObject();
      txn.operation_parameters_json = w.Take();
      const int64_t now = NowMillis();
      txn.txns.push_back({prefix + kAccepted + Tail(g.topic, g.partition, g.epoch, g.from_offset), g.to_offset, now});
      // Resume after the gap: the partition's bronze txn moves to its last offset (never backwards).
      const std::string part = partition_app_id(g.topic, g.partition, g.epoch);
      if (bronze.snapshot().TxnVersion(part).value_or(-1) < g.to_offset) txn.txns.push_back({part, g.to_offset, now});
      RETURN_IF_ERROR(bronze.Commit(txn).status());
      spdlog::warn("pipeline '{}': data loss accepted by {} (--accept-data-loss {}): {}; consumption resumes at offset "
                   "{}", pipeline, Operator(), a.text, g.Describe(), g.to_offset + 1);
      break;
    }
  }
  for (size_t i = 0; i < accept.size(); ++i) {
    if (used[i]) continue;
    std::string recorded;
    for (const DataLossGap& g : DataLossGapsOf(bronze.snapshot())) {
      if (g.pipeline != pipeline) continue;
      recorded += fmt::format("{}{} ({})", recorded.empty() ? "" : ", ", g.Spec(), g.accepted ? "accepted" : "open");
    }
    return InvalidArgument("--accept-data-loss {}: pipeline '{}' recorded no open data-loss gap {}; recorded gaps: {}",
                           accept[i].text, pipeline, accept[i].text, recorded.empty() ? "none" : recorded);
  }
  std::string open, flags;
  for (const DataLossGap& g : DataLossGapsOf(bronze.snapshot())) {
    if (g.pipeline != pipeline || g.accepted) continue;
    open += fmt::format("{}{}", open.empty() ? "" : "; ", g.Describe());
    flags += (flags.empty() ? "" : ",") + g.Spec();
  }
  if (open.empty()) return Status::OK();
  return DataLoss(
      "pipeline '{}': records were lost before bronze held them: {}. They are gone from the broker (evicted or "
      "deleted by retention), so this pipeline stops at every start until the loss is accepted. Re-publish them "
      "from their source if you can, then restart with --accept-data-loss {} (recorded in bronze's Delta log; "
      "docs/reliability.md, \"Broker eviction\")",
      pipeline, open, flags);
}

}  // namespace lakestream
