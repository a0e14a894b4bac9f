// The writer lease (pipeline/writer_lease.h): one writer per pipeline, refused while another lives,
// taken over when the holder released it, let it expire or died on this machine.
#include "pipeline/writer_lease.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {
namespace {

std::string TempLake() {
  auto p = std::filesystem::temp_directory_path() / ("lakestream_lease_" + RandomUuid());
  std::filesystem::create_directories(p);
  return p.string();
}

WriterLeaseOptions Options(const std::string& root, int64_t ttl_ms = 15000) {
  return WriterLeaseOptions{root, "orders", "ingest", ttl_ms};
}

// Writes lease record `seq` by hand, as another process would.
void WriteRecord(const std::string& root, int64_t seq, const std::string& host, int64_t pid, int64_t expires_at_ms,
                 const std::string& boot_id) {
  auto store = OpenStorage(root + "/_lakestream/leases/orders");
  ASSERT_TRUE(store.ok());
  JsonWriter w;
  w.BeginObject().Key("holder_id").String("other-" + std::to_string(seq)).Key("host").String(host);
  w.Key("boot_id").String(boot_id).Key("pid").Int(pid).Key("pid_start_ticks").Int(0).Key("command").String("ingest");
  w.Key("acquired_at_ms").Int(NowMillis()).Key("renewed_at_ms").Int(NowMillis()).Key("expires_at_ms").Int(expires_at_ms);
  w.Key("released").Bool(false).EndObject();
  char name[32];
  std::snprintf(name, sizeof name, "%020lld.json", static_cast<long long>(seq));
  ASSERT_TRUE((*store)->PutIfAbsent(name, w.Take()).ok());
}

std::string ThisHost() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string ThisBootId() {
  std::string id;
  if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, f)) id = buf;
    std::fclose(f);
  }
  while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.pop_back();
  return id;
}

TEST(WriterLease, ASecondWriterIsRefusedNamingTheHolderAndTakesOverAfterRelease) {
  const std::string root = TempLake();
  auto first = WriterLease::Acquire(Options(root));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE((*first)->Check().ok());
  auto second = WriterLease::Acquire(Options(root));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kConflict);
  EXPECT_NE(second.status().message().find("pid " + std::to_string(getpid())), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find("another lakestream process"), std::string::npos);
  (*first)->Release();
  auto third = WriterLease::Acquire(Options(root));
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  auto current = ReadCurrentLease(root, "orders");
  ASSERT_TRUE(current.ok() && current->has_value());
  EXPECT_EQ((*current)->holder_id, (*third)->record().holder_id);
}

TEST(WriterLease, ALiveHolderOnAnotherMachineIsRefusedUntilItsLeaseExpires) {
  const std::string root = TempLake();
  WriteRecord(root, 1, "another-machine", 1, NowMillis() + 60000, "boot-elsewhere");
  auto refused = WriterLease::Acquire(Options(root));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("host another-machine"), std::string::npos) << refused.status().message();
  EXPECT_NE(refused.status().message().find("after its lease expires"), std::string::npos);
  WriteRecord(root, 2, "another-machine", 1, NowMillis() - 1, "boot-elsewhere");  // it stopped renewing
  auto taken = WriterLease::Acquire(Options(root));
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ((*taken)->record().sequence, 3);
}

TEST(WriterLease, AHolderOfThisMachineThatNoLongerRunsIsTakenOverAtOnce) {
  const std::string root = TempLake();
  pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);  // the pid now names no process: the holder was killed
  WriteRecord(root, 1, ThisHost(), child, NowMillis() + 60000, ThisBootId());
  auto taken = WriterLease::Acquire(Options(root));
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  // A live process of this machine (this test) is not taken over.
  auto again = WriterLease::Acquire(Options(root));
  EXPECT_FALSE(again.ok());
}

TEST(WriterLease, CheckFailsOnceAnotherProcessTookTheLeaseOver) {
  const std::string root = TempLake();
  auto lease = WriterLease::Acquire(Options(root, 1500));  // renewed every 500 ms
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  // Another process writes the next record first (it judged the lease expired).
  WriteRecord(root, (*lease)->record().sequence + 1, "another-machine", 1, NowMillis() + 60000, "boot-elsewhere");
  Status st;
  for (int i = 0; i < 40 && st.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = (*lease)->Check();
  }
  EXPECT_EQ(st.code(), StatusCode::kConflict) << st.ToString();
  EXPECT_NE(st.message().find("taken over by host another-machine"), std::string::npos) << st.message();
}

TEST(WriterLease, RenewalKeepsTheLeaseAliveBeyondItsTtl) {
  const std::string root = TempLake();
  auto lease = WriterLease::Acquire(Options(root, 1200));
  ASSERT_TRUE(lease.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  EXPECT_TRUE((*lease)->Check().ok()) << (*lease)->Check().ToString();
  EXPECT_FALSE(WriterLease::Acquire(Options(root, 1200)).ok());
  EXPECT_GT((*lease)->record().sequence, 2) << "renewals write new records";
}

}  // namespace
}  // namespace lakestream
