// The notifications pipeline end to end (docs/pipelines/notifications.md), run from its file:
// gold equal to an independent DuckDB recount over the raw records bronze received, duplicates,
// late events within the watermark and after a day is final, quarantined bad records, and a crash
// that changes no bill.
#include <httplib.h>

#include <random>

#include "e2e/e2e_util.h"
#include "source/kafka/embedded_broker.h"

namespace lakestream::e2e {
namespace {

const std::string kPipeline = kSource + "/pipelines/notifications.toml";

// The per-customer prices of pipelines/notifications.toml, restated (BRL per WhatsApp notification).
const char* kPrice =
    "CASE cid WHEN '1000001' THEN 0.0350 WHEN '1000002' THEN 0.0375 WHEN '1000003' THEN 0.0390 ELSE 0.04 "
    "END::DECIMAL(12,4)";

// Every record bronze received, in the order silver saw them: the bronze version (from the Delta log),
// partition and offset, and the fields read straight from the JSON payload. Then the first copy of
// each message_id, flagged `late` when its day had ended 10 minutes (the watermark) before the newest
// event time of the earlier bronze versions — the rule in docs/pipelines/notifications.md, recomputed here.
std::string Recount(Lake& lake, const std::string& dir) {
  const std::string table = dir + "/bronze/notifications";
  const std::string log = "SELECT CAST(regexp_extract(filename, '(\\d+)\\.json$', 1) AS BIGINT) AS v, "
                          "json_extract_string(json, '$.add.path') AS path FROM read_ndjson_objects(" +
                          ColumnarEngine::Quote(table + "/_delta_log/*.json") +
                          ", filename = true) WHERE json_extract_string(json, '$.add.path') IS NOT NULL AND "
                          "json_extract(json, '$.add.dataChange')::BOOLEAN";
  // Only the files the log committed: a process killed while writing leaves a partial file behind.
  std::string files;
  auto paths = lake.engine().Query("SELECT DISTINCT path FROM (" + log + ") ORDER BY path");
  EXPECT_TRUE(paths.ok()) << paths.status().ToString();
  for (const auto& row : paths.ok() ? paths->rows : std::vector<std::vector<std::optional<std::string>>>{}) {
    files += (files.empty() ? "" : ", ") + ColumnarEngine::Quote(table + "/" + row[0].value_or(""));
  }
  return "WITH log AS (" + log + "), "
         "raw AS (SELECT l.v, b.\"partition\" AS p, b.\"offset\" AS o, decode(b.payload) AS j FROM read_parquet([" +
         files + "], filename = true) AS b JOIN log AS l ON b.filename LIKE '%/' || l.path), "
         "ev AS (SELECT v, p, o, json_extract_string(j, '$.message_id') AS mid, json_extract_string(j, "
         "'$.customer_id') AS cid, json_extract_string(j, '$.channel') AS ch, json_extract_string(j, "
         "'$.event_datetime')::TIMESTAMPTZ AS ts FROM raw WHERE json_valid(j) AND json_extract_string(j, "
         "'$.event_datetime') IS NOT NULL), "
         "firsts AS (SELECT * FROM ev QUALIFY row_number() OVER (PARTITION BY mid ORDER BY v, p, o) = 1), "
         "per_v AS (SELECT v, max(ts) AS mx FROM firsts GROUP BY v), "
         "wm AS (SELECT v, max(mx) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev FROM "
         "per_v), "
         "flagged AS (SELECT f.*, coalesce(f.ts::DATE < (w.prev - INTERVAL 10 MINUTE)::DATE, false) AS late, " +
         std::string(kPrice) + " AS price FROM firsts AS f JOIN wm AS w USING (v)) ";
}

// Rows of `a` not in `b` plus rows of `b` not in `a`.
int64_t Difference(Lake& lake, const std::string& with, const std::string& a, const std::string& b) {
  return std::stoll(lake.One(with + "SELECT (SELECT count(*) FROM (" + a + " EXCEPT ALL " + b + ")) + (SELECT count(*) FROM (" +
                             b + " EXCEPT ALL " + a + "))"));
}

void ExpectGoldEqualsRecount(Lake& lake, const std::string& dir) {
  const std::string with = Recount(lake, dir);
  const std::string minute = lake.Scan("gold/notification_usage_minute"), billing = lake.Scan("gold/billing_daily"),
                    adjustments = lake.Scan("gold/billing_daily_adjustments");
  EXPECT_EQ(Difference(lake, with,
                       "SELECT date_trunc('minute', ts), cid, ch, count(*), max(ts) FROM flagged GROUP BY ALL",
                       "SELECT minute, customer_id, channel, notifications, last_event_at FROM " + minute),
            0)
      << "notification_usage_minute differs from the recount";
  EXPECT_EQ(Difference(lake, with,
                       "SELECT ts::DATE, cid, count(*), sum(price) FROM flagged WHERE ch = 'Whatsapp' AND NOT late "
                       "GROUP BY ALL",
                       "SELECT billing_date, customer_id, notifications, amount_brl FROM " + billing),
            0)
      << "billing_daily differs from the recount";
  EXPECT_EQ(Difference(lake, with,
                       "SELECT ts::DATE, cid, count(*), sum(price) FROM flagged WHERE ch = 'Whatsapp' AND late "
                       "GROUP BY ALL",
                       "SELECT billing_date, customer_id, sum(notifications), sum(amount_brl) FROM " + adjustments +
                           " GROUP BY ALL"),
            0)
      << "billing_daily_adjustments differs from the recount";
  // A day is final once the watermark (newest event time − 10 min) has passed its end.
  EXPECT_EQ(lake.One(with + "SELECT count(*) FROM " + billing + " WHERE is_final <> (billing_date < (SELECT (max(ts) - "
                            "INTERVAL 10 MINUTE)::DATE FROM flagged))"),
            "0");
}

TEST(Notifications, GoldEqualsAnIndependentRecountOfTheGeneratedDays) {
  const std::string dir = TempDir();
  Lake lake(dir);
  // 30,000 events over 2.5 simulated days, held to 64 KiB uncommitted per partition, in 200-ms
  // micro-batches, gold refreshed after every batch: many bronze versions, days closing while data
  // flows, late and duplicate events.
  ASSERT_EQ(RunCli({"run", "--pipeline", kPipeline, "--lakehouse", dir, "--rate", "max", "--max-lag-bytes", "65536",
                    "--limit", "30000",
                    "--start", "2020-02-03T00:00:00Z", "--events-per-day", "12000", "--commit-interval-ms", "200",
                    "--gold-interval-ms", "0", "--no-http"},
                   dir + "/run.txt"),
            0)
      << ReadFile(dir + "/run.txt");
  const std::string run = ReadFile(dir + "/run.txt");
  EXPECT_EQ(lake.Rows("bronze/notifications"), 30000);
  EXPECT_EQ(lake.Rows("silver/notifications_quarantine"), 0);
  const std::string with = Recount(lake, dir);
  const int64_t firsts = std::stoll(lake.One(with + "SELECT count(*) FROM flagged"));
  EXPECT_EQ(lake.Rows("silver/notifications"), firsts) << "silver holds each message_id once";
  EXPECT_LT(firsts, 30000) << "the generator sends some duplicates";
  EXPECT_GT(std::stoll(lake.One(with + "SELECT count(*) FROM flagged WHERE late AND ch = 'Whatsapp'")), 0)
      << "some events arrive after their day is final";
  EXPECT_GE(std::stoll(lake.One("SELECT count(DISTINCT bronze_version) FROM " + lake.Scan("silver/notifications"))), 5);
  ExpectGoldEqualsRecount(lake, dir);
  EXPECT_NE(run.find("redelivered duplicates left out (same message_id)"), std::string::npos) << run;
}

// Writes `lines` to a file and produces them to the broker of `dir`.
void Produce(const std::string& dir, const std::string& name, const std::vector<std::string>& lines) {
  std::string bootstrap, epoch;
  ASSERT_TRUE(ReadBrokerFile(dir + "/_broker", &bootstrap, &epoch).ok());
  const std::string path = dir + "/" + name + ".jsonl";
  std::ofstream f(path);
  for (const auto& l : lines) f << l << "\n";
  f.close();
  const std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_json.py " + bootstrap +
                          " notifications " + path + " > " + dir + "/" + name + ".log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir + "/" + name + ".log");
}

void WaitForBronzeRows(Lake& lake, int64_t rows) {
  for (int i = 0; i < 300 && lake.Rows("bronze/notifications") < rows; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(lake.Rows("bronze/notifications"), rows);
}

std::string Event(const std::string& id, const std::string& time, const std::string& channel = "Whatsapp",
                  const std::string& payload = "Olá XXXXX, seja muito bem-vindo! Precisa de alguma ajuda?") {
  return R"({"customer_id":"7494212","message_id":")" + id + R"(","customer_name":"Acme","channel":")" + channel +
         R"(","payload":")" + payload + R"(","event_datetime":")" + time + R"("})";
}

TEST(Notifications, DuplicatesLateEventsAndADayMadeFinalBillExactlyOnce) {
  const std::string dir = TempDir();
  Lake lake(dir);
  pid_t broker = Spawn({"broker", "--pipeline", kPipeline, "--lakehouse", dir}, dir + "/broker.txt");
  WaitForBrokerFile(dir);
  pid_t ingest = Spawn({"ingest", "--pipeline", kPipeline, "--lakehouse", dir, "--follow", "--commit-interval-ms",
                        "200", "--gold-interval-ms", "0", "--no-http"},
                       dir + "/ingest.txt");
  // Version 1: two messages of 2020-02-03, one sent twice, and two records that break the schema.
  Produce(dir, "v1",
          {Event("5B81FF24A1", "2020-02-03T14:00:01.001+00:00"), Event("A61D178E73", "2020-02-03T14:00:01.099+00:00", "Whatsapp",
                 "Não identificamos a sua última mensagem. Por favor, entre em contato"),
           Event("5B81FF24A1", "2020-02-03T14:00:01.001+00:00"), "not json {",
           R"({"customer_id":"7494212","message_id":"X1","channel":"Whatsapp"})"});
  WaitForBronzeRows(lake, 5);
  // Version 2: the first event of 2020-02-04 after 00:10 moves the watermark past the end of 2020-02-03;
  // an event of 23:59 in the same version is judged by the watermark before it, so it is on time.
  Produce(dir, "v2", {Event("B0000000001", "2020-02-04T00:20:00Z"), Event("B0000000002", "2020-02-03T23:59:00Z")});
  WaitForBronzeRows(lake, 7);
  // Version 3: 2020-02-03 is final — a message of its 15:00 is an adjustment; 00:15 of the 4th is within
  // the watermark, and one SMS of the 3rd is late but counted per minute only (not billed).
  Produce(dir, "v3",
          {Event("C0000000001", "2020-02-03T15:00:00-03:00"), Event("C0000000002", "2020-02-04T00:15:00Z"),
           Event("C0000000003", "2020-02-03T12:00:00Z", "SMS")});
  WaitForBronzeRows(lake, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill(ingest, SIGINT);
  EXPECT_EQ(Wait(ingest), 0) << ReadFile(dir + "/ingest.txt");
  kill(broker, SIGINT);
  EXPECT_EQ(Wait(broker), 0);

  const std::string billing = lake.Scan("gold/billing_daily"), adj = lake.Scan("gold/billing_daily_adjustments");
  EXPECT_EQ(lake.One("SELECT notifications || ' ' || amount_brl || ' ' || is_final FROM " + billing +
                     " WHERE billing_date = '2020-02-03'"),
            "3 0.1200 true");
  EXPECT_EQ(lake.One("SELECT notifications || ' ' || amount_brl || ' ' || is_final FROM " + billing +
                     " WHERE billing_date = '2020-02-04'"),
            "2 0.0800 false");
  EXPECT_EQ(lake.One("SELECT billing_date || ' ' || notifications || ' ' || amount_brl FROM " + adj), "2020-02-03 1 0.0400");
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + adj), "1");
  const std::string minute = lake.Scan("gold/notification_usage_minute");
  EXPECT_EQ(lake.One("SELECT notifications FROM " + minute + " WHERE minute = '2020-02-03 14:00:00+00'"), "2");
  EXPECT_EQ(lake.One("SELECT notifications FROM " + minute + " WHERE minute = '2020-02-03 18:00:00+00'"), "1")
      << "the late event counts in its own minute (15:00-03:00 = 18:00 UTC)";
  EXPECT_EQ(lake.One("SELECT notifications FROM " + minute + " WHERE minute = '2020-02-03 12:00:00+00' AND channel = 'SMS'"),
            "1");
  const std::string quarantine = lake.Scan("silver/notifications_quarantine");
  EXPECT_EQ(lake.One("SELECT string_agg(failed_rules, ',' ORDER BY failed_rules) FROM " + quarantine), "schema,valid_json");
  EXPECT_NE(lake.One("SELECT reason FROM " + quarantine + " WHERE failed_rules = 'schema'").find("/event_datetime: required"),
            std::string::npos);
  EXPECT_EQ(lake.Rows("silver/notifications"), 7) << "8 valid records, one of them a duplicate";
  ExpectGoldEqualsRecount(lake, dir);

  // The reports, in the issue's formats.
  ASSERT_EQ(RunCli({"report", "billing", "--lakehouse", dir, "--date", "2020-02-03"}, dir + "/billing.txt"), 0);
  const std::string bill = ReadFile(dir + "/billing.txt");
  EXPECT_EQ(bill.substr(0, bill.find("Registrado em: ")),
            "Relatório de Cobrança\nCliente: Acme\nNotificações Whatsapp: 3\nValor: R$ 0,12\nData: 2020-02-03\n\n"
            "Ajuste de Cobrança (notificações recebidas após o fechamento do dia)\nCliente: Acme\n"
            "Notificações Whatsapp: 1\nValor: R$ 0,04\nData: 2020-02-03\n")
      << bill;
  ASSERT_EQ(RunCli({"report", "billing", "--lakehouse", dir, "--date", "2020-02-03", "--format", "csv"},
                   dir + "/billing.csv"),
            0);
  const std::string csv_head =
      "kind,billing_date,recorded_on,customer_id,customer_name,notifications,price_brl,amount_brl,is_final\n"
      "bill,2020-02-03,,7494212,Acme,3,0.0400,0.1200,true\nadjustment,2020-02-03,";
  EXPECT_EQ(ReadFile(dir + "/billing.csv").substr(0, csv_head.size()), csv_head);
  ASSERT_EQ(RunCli({"report", "notifications", "--lakehouse", dir, "--customer", "Acme", "--from",
                    "2020-02-03T14:00:00Z", "--to", "2020-02-03T14:01:00Z"},
                   dir + "/detail.txt"),
            0);
  EXPECT_EQ(ReadFile(dir + "/detail.txt"),
            "Relatório Detalhado de Notificações\n= Cliente: Acme =\nMensagem ID: 5B81FF24A1\n"
            "Payload: \"Olá XXXXX, seja muito bem-vindo! Precisa de alguma ajuda?\"\n"
            "Data hora: 2020-02-03T14:00:01.001+00:00\n\nMensagem ID: A61D178E73\n"
            "Payload: \"Não identificamos a sua última mensagem. Por favor, entre em contato\"\n"
            "Data hora: 2020-02-03T14:00:01.099+00:00\n\n");
  ASSERT_EQ(RunCli({"report", "notifications", "--lakehouse", dir, "--customer", "7494212", "--from", "2020-02-03",
                    "--to", "2020-02-03", "--format", "json"},
                   dir + "/detail.json"),
            0);
  const std::string json = ReadFile(dir + "/detail.json");
  EXPECT_EQ(std::count(json.begin(), json.end(), '{'), 5) << json;  // 4 WhatsApp + 1 SMS of the 3rd, in order
  EXPECT_LT(json.find("5B81FF24A1"), json.find("C0000000001")) << json;
  EXPECT_EQ(RunCli({"report", "billing", "--lakehouse", dir, "--date", "3/2/2020"}, dir + "/bad.txt"), 2);
  EXPECT_NE(ReadFile(dir + "/bad.txt").find("--date '3/2/2020' is not a date YYYY-MM-DD"), std::string::npos);
  ASSERT_EQ(RunCli({"report", "notifications", "--lakehouse", dir, "--customer", "Acme", "--from", "2020-02-03",
                    "--to", "2020-02-04", "--format", "csv"},
                   dir + "/detail.csv"),
            0);

  // The same through the API (docs/api.md, "Notifications"): the panel, and reports equal to the CLI's.
  pid_t serve = Spawn({"serve", "--lakehouse", dir, "--http", "127.0.0.1:0"}, dir + "/serve.txt");
  const int port = WaitForPort(dir + "/serve.txt");
  ASSERT_GT(port, 0) << ReadFile(dir + "/serve.txt");
  httplib::Client http("127.0.0.1", port);
  auto get = [&](const std::string& path, int status = 200) {
    auto r = http.Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return std::string();
    EXPECT_EQ(r->status, status) << path << ": " << r->body;
    return r->body;
  };
  // 2020-02-03 per minute: 2 at 14:00, the late one at 18:00 (counted in its minute), one at 23:59.
  EXPECT_EQ(get("/api/v1/notifications/panel?customer=Acme&date=2020-02-03&format=text"),
            "Painel de Notificações\nCliente: Acme\nNotificações Whatsapp: 4\n"
            "Última atualização: 2020-02-03T23:59:00+00:00\n");
  const std::string panel = get("/api/v1/notifications/panel?customer=7494212&date=2020-02-03");
  EXPECT_NE(panel.find(R"("minutes":[{"minute":"2020-02-03T14:00:00+00:00","notifications":2},)"
                       R"({"minute":"2020-02-03T18:00:00+00:00","notifications":1},)"
                       R"({"minute":"2020-02-03T23:59:00+00:00","notifications":1}])"),
            std::string::npos)
      << panel;
  EXPECT_NE(panel.find(R"("dates":["2020-02-03","2020-02-04"])"), std::string::npos) << panel;
  EXPECT_NE(get("/api/v1/notifications/panel?customer=acme").find(R"("date":"2020-02-04","notifications":2,)"),
            std::string::npos)
      << "without a date: the newest day";
  EXPECT_NE(get("/api/v1/notifications/panel?customer=nobody&date=2020-02-03").find(R"("notifications":0,)"),
            std::string::npos);
  EXPECT_NE(get("/api/v1/notifications/customers?date=2020-02-03")
                .find(R"("customers":[{"customer_id":"7494212","customer_name":"Acme","notifications":4}])"),
            std::string::npos);
  EXPECT_EQ(get("/api/v1/notifications/report?customer=Acme&from=2020-02-03T14:00:00Z&to=2020-02-03T14:01:00%2B00:00"
                "&format=text"),
            ReadFile(dir + "/detail.txt"));
  EXPECT_EQ(get("/api/v1/notifications/report?customer=Acme&from=2020-02-03&to=2020-02-04&format=csv"),
            ReadFile(dir + "/detail.csv"));
  EXPECT_EQ(get("/api/v1/notifications/billing?date=2020-02-03&format=text"), bill);
  EXPECT_EQ(get("/api/v1/notifications/billing?date=2020-02-03&format=csv"), ReadFile(dir + "/billing.csv"));
  EXPECT_NE(get("/api/v1/quarantine").find(R"("total":2,)"), std::string::npos)
      << "the quarantine endpoint reads every pipeline's quarantine table";
  EXPECT_NE(get("/api/v1/notifications/panel", 400).find("'customer' is required"), std::string::npos);
  EXPECT_NE(get("/api/v1/notifications/report?customer=Acme&from=2020-02-04&to=2020-02-03", 400).find("after 'from'"),
            std::string::npos);
  EXPECT_NE(get("/api/v1/notifications/billing?date=2020-02-30", 400).find("'date' is required"), std::string::npos);
  EXPECT_NE(get("/api/v1/notifications/report?customer=Acme&from=2020-02-03&to=2020-02-04&format=xml", 400)
                .find("json, csv or text"),
            std::string::npos);
  kill(serve, SIGTERM);
  EXPECT_EQ(Wait(serve), 0) << ReadFile(dir + "/serve.txt");
}

// A crash changes no bill (docs/exactly-once.md): `ingest` is SIGKILLed at random moments while the
// generator produces 3 simulated days, then restarted until it has read everything. Bronze holds each
// Kafka record once, silver each message once, gold equals the per-version recount (so every late
// event is judged as in a run without crashes), and for every customer and day the bill plus its
// adjustments is exactly the distinct WhatsApp messages times the price. The seed of the kill moments
// is printed; LAKESTREAM_TEST_SEED=N replays it.
TEST(Notifications, IngestKilledAtRandomMomentsChangesNoBill) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("LAKESTREAM_TEST_SEED")) seed = std::stoull(s);
  std::printf("[seed] %llu (replay with LAKESTREAM_TEST_SEED=%llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  const std::string dir = TempDir();
  Lake lake(dir);
  pid_t broker = Spawn({"broker", "--pipeline", kPipeline, "--lakehouse", dir}, dir + "/broker.txt");
  WaitForBrokerFile(dir);
  pid_t producer = Spawn({"produce", "--pipeline", kPipeline, "--lakehouse", dir, "--limit", "36000", "--start",
                          "2020-02-03T00:00:00Z", "--events-per-day", "12000", "--rate", "900"},
                         dir + "/produce.txt");
  const std::vector<std::string> ingest = {"ingest", "--pipeline", kPipeline, "--lakehouse", dir, "--follow",
                                           "--commit-interval-ms", "200", "--gold-interval-ms", "0", "--no-http"};
  std::vector<int64_t> bronze_at_kill;
  for (int k = 0; k < 5; ++k) {
    const std::string log = dir + "/ingest" + std::to_string(k) + ".txt";
    pid_t consumer = Spawn(ingest, log);
    for (int waited = 0; waited < 20000 && ReadFile(log).find("assigned ") == std::string::npos; waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 2500)(rng)));
    kill(consumer, SIGKILL);
    Wait(consumer);
    bronze_at_kill.push_back(lake.Rows("bronze/notifications"));
  }
  std::string rows;
  for (int64_t r : bronze_at_kill) rows += " " + std::to_string(r);
  std::printf("killed ingest 5 times; bronze rows after each kill:%s\n", rows.c_str());
  EXPECT_TRUE(std::any_of(bronze_at_kill.begin(), bronze_at_kill.end(), [](int64_t r) { return r > 0 && r < 36000; }))
      << "a kill fell mid-stream, after some commits and before the end";
  std::vector<std::string> final_ingest = ingest;  // --follow becomes: exit once everything is read
  *std::find(final_ingest.begin(), final_ingest.end(), "--follow") = "--idle-exit-ms=3000";
  pid_t last = Spawn(final_ingest, dir + "/ingest-final.txt");
  ASSERT_EQ(Wait(producer), 0) << ReadFile(dir + "/produce.txt");
  ASSERT_EQ(Wait(last), 0) << ReadFile(dir + "/ingest-final.txt");
  kill(broker, SIGINT);
  Wait(broker);

  const std::string bronze = lake.Scan("bronze/notifications");
  EXPECT_EQ(lake.Rows("bronze/notifications"), 36000);
  EXPECT_EQ(lake.One("SELECT count(*) FROM (SELECT \"partition\", count(*) AS n, min(\"offset\") AS lo, max(\"offset\") "
                     "AS hi FROM " + bronze + " GROUP BY ALL) WHERE lo <> 0 OR hi <> n - 1"),
            "0")
      << "a gap or a duplicate in bronze's Kafka offsets";
  const std::string with = Recount(lake, dir);
  EXPECT_EQ(lake.Rows("silver/notifications"), std::stoll(lake.One(with + "SELECT count(*) FROM flagged")));
  EXPECT_EQ(lake.One("SELECT count(*) - count(DISTINCT message_id) FROM " + lake.Scan("silver/notifications")), "0");
  ExpectGoldEqualsRecount(lake, dir);
  // Bills plus adjustments: every distinct WhatsApp message once, whatever the crashes made late.
  EXPECT_EQ(Difference(lake, with,
                       "SELECT ts::DATE, cid, count(*), sum(price) FROM flagged WHERE ch = 'Whatsapp' GROUP BY ALL",
                       "SELECT billing_date, customer_id, sum(n), sum(a) FROM (SELECT billing_date, customer_id, "
                       "notifications AS n, amount_brl AS a FROM " + lake.Scan("gold/billing_daily") +
                           " UNION ALL SELECT billing_date, customer_id, notifications, amount_brl FROM " +
                           lake.Scan("gold/billing_daily_adjustments") + ") GROUP BY ALL"),
            0);
}

}  // namespace
}  // namespace lakestream::e2e
