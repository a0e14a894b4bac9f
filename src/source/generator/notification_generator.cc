#include "source/generator/notification_generator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <thread>
#include <vector>

#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {

namespace {

constexpr int64_t kDayUs = 86400LL * 1000000;

// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, well-mixed generator.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }
};

// Relative traffic per minute of the UTC day: Brazilian business hours (UTC-3) with a morning and an
// evening peak and a quiet night (peak ≈ 2.3× the mean, night ≈ 0.2×).
std::array<double, 1440> DailyCurve() {
  std::array<double, 1440> w{};
  double sum = 0;
  for (int m = 0; m < 1440; ++m) {
    double h = std::fmod(m / 60.0 - 3.0 + 24.0, 24.0);  // local hour
    w[m] = 0.12 + std::exp(-(h - 11) * (h - 11) / 8.0) + 0.8 * std::exp(-(h - 19) * (h - 19) / 6.0);
    sum += w[m];
  }
  for (auto& x : w) x *= 1440.0 / sum;  // mean 1
  return w;
}

const char* kPayloads[] = {
    "Olá XXXXX, seja muito bem-vindo! Precisa de alguma ajuda?",
    "Não identificamos a sua última mensagem. Por favor, entre em contato",
    "Seu pedido XXXXX foi enviado e chega em até 3 dias úteis.",
    "Seu código de verificação é XXXXXX. Não o compartilhe com ninguém.",
    "Lembrete: sua consulta está marcada para amanhã às XX:XX.",
    "Sua fatura vence em XX/XX. Pague pelo app e evite juros.",
    "Obrigado pela compra! Avalie nosso atendimento de 0 a 10.",
    "Seu pagamento foi aprovado. Obrigado por escolher a XXXXX.",
};

const char* kNameParts[] = {"Acme", "Boa Vista", "Casa", "Delta", "Estrela", "Faro", "Grão", "Horizonte", "Ipê",
                            "Jatobá", "Kairós", "Luz", "Mar", "Norte", "Ouro", "Prata", "Rio", "Sol", "Terra", "Vale"};
const char* kNameKinds[] = {"Varejo", "Saúde", "Telecom", "Seguros", "Educação", "Logística", "Bank", "Energia"};

// "2020-02-03T14:00:01.001+00:00", or in Brasília time ("-03:00") for about one event in ten.
std::string IsoWithOffset(int64_t us, bool brasilia) {
  int64_t ms = (us >= 0 ? us : us - 999) / 1000;
  int64_t local_ms = ms - (brasilia ? 3LL * 3600 * 1000 : 0);
  int64_t days = (local_ms >= 0 ? local_ms : local_ms - 86399999) / 86400000;
  int64_t in_day = local_ms - days * 86400000;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}", y, mo, d, in_day / 3600000, in_day / 60000 % 60,
                     in_day / 1000 % 60, in_day % 1000, brasilia ? "-03:00" : "+00:00");
}

}  // namespace

GeneratedCustomer NotificationGenerator::Customer(int i) {
  if (i == 0) return {"7494212", "Acme"};
  const int parts = sizeof(kNameParts) / sizeof(kNameParts[0]), kinds = sizeof(kNameKinds) / sizeof(kNameKinds[0]);
  std::string name = std::string(kNameParts[i % parts]) + " " + kNameKinds[(i / parts) % kinds];
  if (i >= parts * kinds) name += " " + std::to_string(i / (parts * kinds) + 1);
  return {std::to_string(1000000 + i), name};
}

NotificationGenerator::NotificationGenerator(NotificationGeneratorOptions options, KafkaProducer* producer,
                                             std::function<int64_t()> lag_bytes)
    : options_(std::move(options)), producer_(producer), lag_bytes_(std::move(lag_bytes)) {}

Status NotificationGenerator::Run(const std::atomic<bool>& stop) {
  const auto& o = options_;
  Rng rng{o.seed};
  // Zipf(1.1) over customers: the first few send most messages, the tail a few each.
  const int n = std::max(1, o.customers);
  std::vector<double> cdf(n);
  double acc = 0;
  for (int i = 0; i < n; ++i) cdf[i] = (acc += 1.0 / std::pow(i + 1, 1.1));
  for (auto& c : cdf) c /= acc;
  std::vector<GeneratedCustomer> customers;
  for (int i = 0; i < n; ++i) customers.push_back(Customer(i));
  const auto curve = DailyCurve();
  std::array<double, 1441> curve_cdf{};
  for (int m = 0; m < 1440; ++m) curve_cdf[m + 1] = curve_cdf[m] + curve[m] / 1440.0;

  struct Sent {
    std::string key, value;
    int64_t sent_us = 0;  // (simulated) time it was first sent
  };
  // For redeliveries: the messages of the last 5 minutes of send time (at most 1,000), as a client
  // retrying after a lost acknowledgement would resend them.
  constexpr int64_t kRedeliveryWindowUs = 5 * 60 * 1000000LL;
  std::deque<Sent> recent;
  int64_t wall_start_ms = MonotonicMillis();
  double due_ms = 0;  // since wall_start_ms
  int64_t seq = 0;
  spdlog::info("generating notifications: {} customers, rate {}, {}", n,
               o.rate ? fmt::format("{:.0f}/s (day average)", *o.rate) : "max",
               o.start_us ? "simulated event time from " + FormatTimestampIso(*o.start_us) : "event time = wall clock");
  while (!stop.load() && (o.limit <= 0 || counters_.produced.load() < o.limit)) {
    // Event time.
    int64_t now_us;
    if (o.start_us) {
      const int64_t per_day = std::max<int64_t>(1, o.events_per_day);
      const int64_t day = seq / per_day;
      const double u = (static_cast<double>(seq % per_day) + 0.5) / static_cast<double>(per_day);
      int m = static_cast<int>(std::upper_bound(curve_cdf.begin(), curve_cdf.end(), u) - curve_cdf.begin()) - 1;
      m = std::clamp(m, 0, 1439);
      const double frac = (u - curve_cdf[m]) / std::max(1e-12, curve_cdf[m + 1] - curve_cdf[m]);
      now_us = *o.start_us + day * kDayUs + static_cast<int64_t>((m + frac) * 60e6);
    } else {
      now_us = NowMicros();
    }
    Sent ev;
    while (!recent.empty() && recent.front().sent_us < now_us - kRedeliveryWindowUs) recent.pop_front();
    const double r = rng.Uniform();
    if (r < o.duplicate_ratio && !recent.empty()) {
      ev = recent[rng.Next() % recent.size()];  // the same message delivered again
      counters_.duplicates++;
    } else {
      int64_t et = now_us;
      if (r < o.duplicate_ratio + o.late_ratio) {
        et -= static_cast<int64_t>((30 + rng.Uniform() * 450) * 1e6);
        counters_.late++;
      } else if (r < o.duplicate_ratio + o.late_ratio + o.very_late_ratio) {
        et -= static_cast<int64_t>((12 + rng.Uniform() * 24) * 3600e6);
        counters_.very_late++;
      }
      const int c = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), rng.Uniform()) - cdf.begin());
      const GeneratedCustomer& cust = customers[std::min(c, n - 1)];
      const double ch = rng.Uniform();
      const char* channel = ch < 0.85 ? "Whatsapp" : ch < 0.93 ? "SMS" : ch < 0.98 ? "Email" : "Push";
      JsonWriter w;
      w.BeginObject()
          .Key("customer_id").String(cust.id)
          .Key("message_id").String(fmt::format("{:016X}", rng.Next()))
          .Key("customer_name").String(cust.name)
          .Key("channel").String(channel)
          .Key("payload").String(kPayloads[rng.Next() % (sizeof(kPayloads) / sizeof(kPayloads[0]))])
          .Key("event_datetime").String(IsoWithOffset(et, rng.Next() % 10 == 0))
          .EndObject();
      ev = {cust.id, w.Take(), now_us};
      counters_.event_time_us = et;
      recent.push_back(ev);
      if (recent.size() > 1000) recent.pop_front();
    }
    // Pacing: the target rate shaped by the daily curve at the current event time.
    if (o.rate && *o.rate > 0) {
      const int minute = static_cast<int>(((now_us % kDayUs) + kDayUs) % kDayUs / 60000000);
      due_ms += 1000.0 / (*o.rate * (o.start_us ? 1.0 : curve[minute]));
      const int64_t now = MonotonicMillis();
      const int64_t due = wall_start_ms + static_cast<int64_t>(due_ms);
      if (due > now + 1) {
        producer_->Poll(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(due - now));
      }
    }
    if ((seq & 63) == 0) {
      const int64_t waited_from = MonotonicMillis();
      // Records still in the producer's queue count too (as if all went to one partition): delivery
      // reports lag behind a fast generator.
      while (!stop.load() && lag_bytes_() + producer_->in_flight() * static_cast<int64_t>(ev.value.size()) >
                                 o.max_lag_bytes) {
        producer_->Poll(10);
      }
      const int64_t waited = MonotonicMillis() - waited_from;
      if (waited > 0) {
        counters_.backpressure_ms += waited;
        wall_start_ms += waited;  // do not burst to catch up after being held back
      }
    }
    RETURN_IF_ERROR(producer_->Produce(ev.key, ev.value));
    ++seq;
    counters_.produced++;
    if ((seq & 255) == 0) producer_->Poll(0);
  }
  RETURN_IF_ERROR(producer_->Flush(60000));
  RETURN_IF_ERROR(producer_->status());
  counters_.done = true;
  return Status::OK();
}

}  // namespace lakestream
