// Who this node is, decided once at start-up.
#pragma once

#include "config/app_config.hpp"
#include "vocabulary/cluster_types.hpp"

#include <string>

namespace tandem::cluster {

/// The node's name (cluster.node_id, or "<hostname>-<http.port>") and a fresh random
/// incarnation (positive, 63 bits).
node_identity make_node_identity(const config::app_config& cfg);

/// cluster.advertise_url, or "http://<http.address>:<port>" with the port bound.
std::string advertised_url(const config::app_config& cfg, unsigned short bound_port);

} // namespace tandem::cluster
