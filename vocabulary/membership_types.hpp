// What the nodes of a cluster learn of each other from their leases (docs/cluster.md,
// Membership).
#pragma once

#include "vocabulary/cluster_types.hpp"

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem {

/// A node with a live lease: who it is and the address it advertises to operators.
struct cluster_node {
  node_identity identity;
  std::string address;
};

inline bool operator==(const cluster_node& x, const cluster_node& y) {
  return x.identity == y.identity && x.address == y.address;
}

inline bool operator!=(const cluster_node& x, const cluster_node& y) {
  return !(x == y);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_node& x) {
  return f(caf::meta::type_name("cluster_node"), x.identity, x.address);
}

/// What one renewal of a lease found.
struct lease_renewal {
  /// Every node with a live lease after the renewal, this one included, by node id.
  std::vector<cluster_node> live;
  /// The incarnation of another run of this node id whose live lease the renewal took
  /// over (0: none). After a restart that is the previous run; later it means that two
  /// running nodes share one node id.
  int64_t displaced = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lease_renewal& x) {
  return f(caf::meta::type_name("lease_renewal"), x.live, x.displaced);
}

} // namespace tandem
