#include "pipeline/silver_format.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <type_traits>

#include "common/time.h"
#include "format/order_event.h"
#include "format/schema_decoder.h"
#include "pipeline/event_id_set.h"
#include "pipeline/window_gold.h"

namespace lakestream {

namespace {

// ---- format "order-line.v1": the order-line contract -------------------------------------------------

// Column indexes of the order-line silver columns (SilverColumnsOf order).
enum OrderCol : size_t {
  kEventId, kEventTime, kOrderDate, kTransactionNo, kProductNo, kProductName, kQuantity, kUnitPrice, kLineRevenue,
  kCustomerNo, kCountry, kIsCancellation, kIsAdjustment,
};

// Appends `v` to column `col` (strings as text, numbers as integers), or NULL when absent.
template <typename T>
void AppendOptional(RecordBatch& b, size_t col, const std::optional<T>& v) {
  if (!v) {
    b.AppendNull(col);
  } else if constexpr (std::is_same_v<T, std::string>) {
    b.AppendString(col, *v);
  } else {
    b.AppendInt(col, *v);
  }
}

// The business content of a line (everything but its event id and Kafka coordinates), for counting
// the source's repeated lines. Fields are separated by 0x1f; null is 0x1e.
std::string LineContentKey(const std::optional<std::string_view> (&f)[8]) {
  std::string key;
  for (const auto& v : f) {
    if (v) {
      key.append(v->data(), v->size());
    } else {
      key.push_back('\x1e');
    }
    key.push_back('\x1f');
  }
  return key;
}

// An optional field as text: strings as they are, numbers in decimal.
template <typename T>
std::optional<std::string> Text(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    return *v;
  } else {
    return std::to_string(*v);
  }
}

std::string LineContentKey(const OrderRecord& o) {
  std::optional<std::string> parts[8] = {o.transaction_no, Text(o.event_time_us), o.product_no, o.product_name,
                                         Text(o.quantity), Text(o.unit_price_milli_gbp), o.customer_no, o.country};
  std::optional<std::string_view> views[8];
  for (int i = 0; i < 8; ++i) {
    if (parts[i]) views[i] = *parts[i];
  }
  return LineContentKey(views);
}

// The typed fields of a record, for quarantine reasons: "transaction_no=A563187 product_no=B …".
std::string RecordSummary(const OrderRecord& o) {
  auto opt = [](const auto& v) { return Text(v).value_or("NULL"); };
  return fmt::format("transaction_no={} product_no={} quantity={} unit_price_gbp={} order_date={} country={}",
                     opt(o.transaction_no), opt(o.product_no), opt(o.quantity),
                     o.unit_price_milli_gbp ? FormatScaledDecimal(*o.unit_price_milli_gbp, 3) : "NULL",
                     o.order_date_days ? FormatDate(*o.order_date_days) : "NULL", opt(o.country));
}

class OrderLineFormat : public SilverFormat {
 public:
  OrderLineFormat(TimeZoneRule zone, const PipelineSpec& spec)
      : OrderLineFormat(zone, spec.silver, SilverColumnsOf(spec)) {}
  OrderLineFormat(TimeZoneRule zone, const SilverRules& rules, std::vector<ColumnSpec> columns)
      : columns_(std::move(columns)),
        decoder_(zone, OrderNormalization{rules.country_aliases, rules.adjustment_product_codes,
                                          rules.adjustment_transaction_prefixes}),
        horizon_us_(rules.dedupe_horizon_ms * 1000),
        seen_lines_(std::make_unique<EventIdSet>(horizon_us_)) {}

  const std::vector<ColumnSpec>& SilverColumns() const override { return columns_; }
  size_t DedupeColumn() const override { return kEventId; }

  void BeginVersion(int64_t) override {
    decoded_.clear();
    repeats_ = 0;
  }

  bool Decode(const KafkaRecord& r, RecordBatch& typed, FormatRejection* why) override {
    OrderRecord o;
    Rejection rejected;
    if (!decoder_.Decode(r.value, &o, &rejected)) {
      why->rule = std::move(rejected.rule);
      why->message = std::move(rejected.message);
      return false;
    }
    typed.AppendString(kEventId, o.event_id);
    AppendOptional(typed, kEventTime, o.event_time_us);
    AppendOptional(typed, kOrderDate, o.order_date_days);
    AppendOptional(typed, kTransactionNo, o.transaction_no);
    AppendOptional(typed, kProductNo, o.product_no);
    AppendOptional(typed, kProductName, o.product_name);
    AppendOptional(typed, kQuantity, o.quantity);
    AppendOptional(typed, kUnitPrice, o.unit_price_milli_gbp);
    AppendOptional(typed, kLineRevenue, o.line_revenue_milli_gbp);
    AppendOptional(typed, kCustomerNo, o.customer_no);
    AppendOptional(typed, kCountry, o.country);
    typed.AppendBool(kIsCancellation, o.is_cancellation);
    typed.AppendBool(kIsAdjustment, o.is_adjustment);
    decoded_.push_back(std::move(o));
    return true;
  }

  std::string QuarantineDetail(size_t row) const override {
    const OrderRecord& o = decoded_[row];
    return " — " + RecordSummary(o) + (o.notes.empty() ? "" : " [" + o.notes + "]");
  }

  void OnKept(const RecordBatch&, size_t row, int64_t ingest_us) override {
    std::string content = LineContentKey(decoded_[row]);
    if (seen_lines_->Contains(content, ingest_us)) {
      repeats_++;
    } else {
      seen_lines_->Add(content, ingest_us);
    }
  }

  void AddMetrics(std::map<std::string, std::string>& metrics) const override {
    metrics["numRepeatedLines"] = std::to_string(repeats_);
  }
  void Count(PipelineCounters& counters) const override { counters.repeated_lines += repeats_; }

  Status LoadState(ColumnarEngine& engine, const std::string& silver_rel, int64_t since_us) override {
    seen_lines_ = std::make_unique<EventIdSet>(horizon_us_);
    if (silver_rel.empty()) return Status::OK();
    // In ingest order, so that expiry stays exact and the first copy of a repeated line stays first.
    const std::string sql = fmt::format(
        "SELECT epoch_us(ingest_time)::VARCHAR, transaction_no, epoch_us(event_time)::VARCHAR, product_no, "
        "product_name, quantity::VARCHAR, (unit_price_gbp * 1000)::BIGINT::VARCHAR, customer_no, country "
        "FROM {} WHERE epoch_us(ingest_time) > {} ORDER BY ingest_time, kafka_partition, kafka_offset",
        silver_rel, since_us);
    return engine
        .ForEachRow(sql,
                    [&](const std::vector<std::optional<std::string_view>>& row) {
                      const int64_t seen = std::stoll(std::string(row[0].value_or("0")));
                      const std::optional<std::string_view> content[8] = {row[1], row[2], row[3], row[4],
                                                                          row[5], row[6], row[7], row[8]};
                      seen_lines_->Add(LineContentKey(content), seen);
                    })
        .WithContext("load the repeated-line state from silver");
  }

  class LinesState : public State {
   public:
    explicit LinesState(EventIdSet lines) : lines(std::move(lines)) {}
    EventIdSet lines;
  };
  std::unique_ptr<State> SaveState() const override { return std::make_unique<LinesState>(*seen_lines_); }
  void RestoreState(std::unique_ptr<State> state) override {
    if (auto* s = dynamic_cast<LinesState*>(state.get())) *seen_lines_ = std::move(s->lines);
  }

 private:
  std::vector<ColumnSpec> columns_;
  OrderEventDecoder decoder_;
  int64_t horizon_us_;
  std::unique_ptr<EventIdSet> seen_lines_;  // business content of the lines silver holds, within the horizon
  std::vector<OrderRecord> decoded_;        // this version's typed rows, by typed row index
  int64_t repeats_ = 0;                     // this version's repeated lines
};

// ---- format "json": the pipeline file's schema ---------------------------------------------------

class JsonSchemaFormat : public SilverFormat {
 public:
  explicit JsonSchemaFormat(const PipelineSpec& spec) : columns_(DeclaredSilverColumns(spec)), nf_(spec.fields.size()) {
    std::vector<DecodedField> fields;
    for (size_t i = 0; i < spec.fields.size(); ++i) {
      const auto& f = spec.fields[i];
      fields.push_back({f.name, f.column, f.required});
      if (f.name == spec.event_time) event_time_col_ = i;
      if (f.name == spec.silver.dedupe_key) dedupe_col_ = i;
    }
    decoder_ = std::make_unique<SchemaDecoder>(std::move(fields), spec.unknown_fields_quarantine);
  }

  const std::vector<ColumnSpec>& SilverColumns() const override { return columns_; }
  size_t DedupeColumn() const override { return dedupe_col_; }
  std::optional<size_t> EventTimeColumn() const override { return event_time_col_; }
  std::optional<size_t> ArrivedAfterCloseColumn() const override { return nf_ + 1; }

  void BeginVersion(int64_t first_open_day) override { first_open_day_ = first_open_day; }

  bool Decode(const KafkaRecord& r, RecordBatch& typed, FormatRejection* why) override {
    DecodeError error;
    if (!decoder_->Decode(r.value, typed, &error)) {
      why->rule = std::move(error.rule);
      why->message = std::move(error.message);
      return false;
    }
    const int64_t et = typed.column(event_time_col_).ints.back();
    const int64_t day = FloorDiv(et, kMicrosPerDay);
    typed.AppendInt(nf_, day);
    typed.AppendBool(nf_ + 1, first_open_day_ != INT64_MIN && day < first_open_day_);
    return true;
  }

 private:
  std::vector<ColumnSpec> columns_;
  size_t nf_;
  size_t event_time_col_ = 0, dedupe_col_ = 0;
  std::unique_ptr<SchemaDecoder> decoder_;
  int64_t first_open_day_ = INT64_MIN;
};

}  // namespace

Result<std::unique_ptr<SilverFormat>> MakeSilverFormat(const PipelineSpec& spec, const std::string& timezone) {
  if (spec.format == kOrderLineFormat) {
    auto zone = TimeZoneRule::Parse(timezone);
    if (!zone) {
      return InvalidArgument("unsupported time zone '{}' for --timezone: use UTC, Europe/London or +HH:MM", timezone);
    }
    return std::unique_ptr<SilverFormat>(std::make_unique<OrderLineFormat>(*zone, spec));
  }
  if (spec.format == "json") return std::unique_ptr<SilverFormat>(std::make_unique<JsonSchemaFormat>(spec));
  return InvalidArgument("{}: unknown [source] format '{}': use \"json\" or \"order-line.v1\"", spec.file, spec.format);
}

}  // namespace lakestream
