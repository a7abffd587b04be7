// The node's figures on /metrics beside the HTTP front's own: one collector per component,
// each reading what that component publishes (atomic counters, published snapshots,
// histograms), so that rendering never asks an actor and never waits for one. main.cpp
// hands over what it wired; every label value here comes from a fixed set.
#pragma once

#include "actors/connection_directory.hpp"
#include "actors/email_outbox.hpp"
#include "actors/registry.hpp"
#include "actors/request_purge.hpp"
#include "cluster/bus.hpp"
#include "http/metrics.hpp"
#include "persistence/message_writer.hpp"
#include "persistence/worker_pool.hpp"
#include "vocabulary/realtime_types.hpp"

#include <caf/all.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tandem::http {

/// What the components of a node publish for /metrics.
struct node_figures {
  /// The worker pools, each under its `pool` label ("db", "redis", "password_hasher",
  /// "media").
  std::vector<std::pair<std::string, std::shared_ptr<const persistence::pool_gauges>>> pools;
  std::shared_ptr<const registry_counters> users;
  std::shared_ptr<const registry_counters> conversations;
  std::shared_ptr<const persistence::message_writer_counters> writer;
  std::shared_ptr<const gateway_counters> gateway;
  std::shared_ptr<const request_purge_counters> purge;
  std::shared_ptr<const email_outbox_counters> outbox;
  /// The cluster's (docs/cluster.md); both absent on a single node. The bus outlives
  /// the server that renders /metrics.
  const cluster::bus_counters* bus = nullptr;
  std::shared_ptr<const connection_directory_counters> directory;
};

/// Adds a collector to `stats` for each figure of `figures`, and the count of running
/// actors of `sys`.
void add_node_collectors(metrics& stats, caf::actor_system& sys, node_figures figures);

} // namespace tandem::http
