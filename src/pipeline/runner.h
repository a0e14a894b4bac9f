// The commands that run the system: `run` (embedded broker + replay + pipeline in one process),
// `broker`, `produce` and `ingest` (the same parts run separately, as a deployment does).
// Each returns the process exit code: 0 on success, 1 on a runtime error (printed), 2 on bad settings.
#pragma once

#include <atomic>

#include "config/settings.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

/// Set by SIGINT/SIGTERM: every command shuts down cleanly when it becomes true.
std::atomic<bool>& StopRequested();
/// Installs the SIGINT/SIGTERM handlers that set StopRequested().
void InstallStopSignalHandlers();

int RunMain(const Settings& settings, const KafkaProperties& kafka_props);
int RunBroker(const Settings& settings);
int RunProduce(const Settings& settings, const KafkaProperties& kafka_props);
int RunIngest(const Settings& settings, const KafkaProperties& kafka_props);

}  // namespace lakestream
