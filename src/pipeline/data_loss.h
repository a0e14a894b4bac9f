// Data-loss gaps: Kafka offsets that were gone from the broker before bronze held them (the embedded
// broker evicted them, or retention deleted them), recorded in bronze's Delta log so that the stop
// they cause is sticky: every start refuses until an operator accepts each gap by name
// (`--accept-data-loss PARTITION:FROM-TO`), and the acceptance is a commit too (docs/reliability.md,
// "Broker eviction").
//
// Both records are Delta txn actions on bronze (Delta PROTOCOL.md, "Transaction Identifiers"), so they
// live in every snapshot and checkpoint, and any Delta reader sees them in the log:
//   appId "<prefix>/data-loss/<topic>/<partition>/<epoch>/<first lost offset>", version = last lost
//   offset, lastUpdated = when it was seen; commitInfo.operation "DATA LOSS" with the details;
//   appId "<prefix>/data-loss-accepted/…" (same tail) when accepted, in the commit that also moves the
//   partition's bronze txn past the gap; commitInfo.operation "ACCEPT DATA LOSS" names who and how.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/delta/delta_table.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

/// One recorded gap.
struct DataLossGap {
  std::string pipeline;  // from the appId's prefix "lakestream-<pipeline>"
  std::string topic;
  int32_t partition = 0;
  std::string epoch;  // the embedded broker's epoch, "" for an external cluster
  int64_t from_offset = 0, to_offset = 0;  // inclusive
  int64_t seen_at_ms = 0;                  // Unix ms
  bool accepted = false;
  int64_t accepted_at_ms = 0;
  int64_t records() const { return to_offset - from_offset + 1; }
  /// "2:1000-5009", as --accept-data-loss takes it.
  std::string Spec() const;
  /// "orders[2] offsets 1000-5009 (4,010 records), seen 2026-12-02T10:00:00Z".
  std::string Describe() const;
};

/// Every gap recorded in `bronze` (open and accepted), in appId order.
std::vector<DataLossGap> DataLossGapsOf(const Snapshot& bronze);

/// Commits the record of `gap` to `bronze` (`app_prefix` "lakestream-<pipeline>", `epoch` the source
/// epoch). Idempotent: a gap recorded already is not recorded again. Errors: Delta and storage errors.
Status RecordDataLossGap(DeltaTable& bronze, const std::string& app_prefix, const std::string& epoch,
                         const OffsetGap& gap);

/// One `--accept-data-loss` item: [TOPIC:]PARTITION:FROM-TO.
struct DataLossAcceptance {
  std::optional<std::string> topic;
  int32_t partition = 0;
  int64_t from_offset = 0, to_offset = 0;
  std::string text;  // as given
};
/// Parses a comma-separated list of items. Errors: InvalidArgument naming the bad item and the form.
Result<std::vector<DataLossAcceptance>> ParseDataLossAcceptances(const std::string& text);

/// At a pipeline's start: commits an acceptance for each open gap of `bronze` that `accept` names
/// (moving the partition's bronze txn, `partition_app_id(topic, partition, epoch)`, to the gap's last
/// offset, so consumption resumes after it), then refuses while any gap stays open.
/// Errors: DataLoss naming each open gap and the flag that accepts it; InvalidArgument for an
/// acceptance that names no recorded gap (listing the recorded ones); Delta errors.
Status SettleDataLossGaps(
    DeltaTable& bronze, const std::string& pipeline, const std::vector<DataLossAcceptance>& accept,
    const std::function<std::string(const std::string&, int32_t, const std::string&)>& partition_app_id);

}  // namespace lakestream
