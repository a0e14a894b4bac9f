// Azurite, the Azure Storage emulator (npm package azurite, pinned in package-lock.json), for the
// tests that run on az:// tables. StartAzurite() launches its Blob service once per test process on a
// free loopback port, in memory, and points this process's AZURE_STORAGE_* variables at it (child
// processes such as `lakestream` and delta_writer_tool inherit them). The emulator is stopped when
// the process exits, and dies with it (PR_SET_PDEATHSIG) if the test crashes.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/ids.h"

namespace lakestream::testing {

/// A free TCP port on 127.0.0.1 (bound, then released).
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct AzuriteProcess {
  pid_t pid = -1;
  int port = 0;
  std::string error;
  ~AzuriteProcess() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
  }
};

/// Starts Azurite (once per process) and sets AZURE_STORAGE_USE_EMULATOR, AZURE_STORAGE_ENDPOINT
/// (http://127.0.0.1:<port>/devstoreaccount1) and LAKESTREAM_AZURE_CACHE_DIR (a fresh directory).
/// Returns the endpoint, or "" with `*error` set when the emulator did not come up within 30 s.
inline std::string StartAzurite(std::string* error) {
  static AzuriteProcess p;
  if (p.pid < 0 && p.error.empty()) {
    p.port = FreeLoopbackPort();
    const std::string source = LAKESTREAM_SOURCE_DIR;
    const std::string main_js = source + "/node_modules/azurite/dist/src/blob/main.js";
    const std::string dir = "/tmp/lakestream-azurite-" + RandomUuid();
    ::mkdir(dir.c_str(), 0755);
    const pid_t parent = ::getpid();
    p.pid = ::fork();
    if (p.pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
      if (::chdir(dir.c_str()) != 0) _exit(1);  // where Azurite puts its debug log, if any
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const std::string port = std::to_string(p.port);
      ::execlp("node", "node", main_js.c_str(), "--blobHost", "127.0.0.1", "--blobPort", port.c_str(), "--inMemoryPersistence", "--silent", "--disableTelemetry", "--skipApiVersionCheck",
               "--loose", static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!CanConnect(p.port)) {
      int st = 0;
      if (::waitpid(p.pid, &st, WNOHANG) == p.pid) {
        p.pid = -1;
        p.error = "azurite exited at start-up (is node installed and `scripts/bootstrap.sh` run?)";
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        p.error = "azurite did not listen within 30 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (p.error.empty()) {
      ::setenv("AZURE_STORAGE_USE_EMULATOR", "true", 1);
      ::setenv("AZURE_STORAGE_ENDPOINT", ("http://127.0.0.1:" + std::to_string(p.port) + "/devstoreaccount1").c_str(), 1);
      ::setenv("LAKESTREAM_AZURE_CACHE_DIR", (dir + "-cache").c_str(), 1);
    }
  }
  if (!p.error.empty()) {
    if (error) *error = p.error;
    return "";
  }
  return "http://127.0.0.1:" + std::to_string(p.port) + "/devstoreaccount1";
}

}  // namespace lakestream::testing
