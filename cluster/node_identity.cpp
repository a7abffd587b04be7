#include "cluster/node_identity.hpp"

#include <unistd.h>

#include <climits>
#include <cstdint>
#include <random>

namespace tandem::cluster {

namespace {

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0')
    return "node";
  return buf;
}

} // namespace

node_identity make_node_identity(const config::app_config& cfg) {
  node_identity self;
  self.id = !cfg.cluster.node_id.empty()
              ? cfg.cluster.node_id
              : host_name() + "-" + std::to_string(cfg.http.port);
  std::random_device entropy;
  std::uniform_int_distribution<int64_t> pick{1, INT64_MAX};
  self.incarnation = pick(entropy);
  return self;
}

std::string advertised_url(const config::app_config& cfg, unsigned short bound_port) {
  if (!cfg.cluster.advertise_url.empty())
    return cfg.cluster.advertise_url;
  return "http://" + cfg.http.address + ":" + std::to_string(bound_port);
}

} // namespace tandem::cluster
