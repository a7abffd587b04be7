#include "persistence/cluster_repo.hpp"

namespace tandem::persistence::cluster_repo {

namespace {

// `prior` reads the row as it was before the upsert (one snapshot for the statement):
// a live lease of another incarnation is reported as displaced.
constexpr const char* renew_sql =
  "WITH prior AS ("
  "  SELECT incarnation FROM cluster_nodes"
  "  WHERE node_id = $1 AND incarnation <> $2 AND lease_expires_at > now()) "
  "INSERT INTO cluster_nodes (node_id, incarnation, address, lease_expires_at) "
  "VALUES ($1, $2, $3, now() + $4::integer * interval '1 millisecond') "
  "ON CONFLICT (node_id) DO UPDATE SET"
  "  incarnation = EXCLUDED.incarnation,"
  "  address = EXCLUDED.address,"
  "  lease_expires_at = EXCLUDED.lease_expires_at,"
  "  started_at = CASE WHEN cluster_nodes.incarnation = EXCLUDED.incarnation"
  "               THEN cluster_nodes.started_at ELSE now() END "
  "RETURNING COALESCE((SELECT incarnation FROM prior), 0)";

constexpr const char* live_sql =
  "SELECT node_id, incarnation, address FROM cluster_nodes "
  "WHERE lease_expires_at > now() ORDER BY node_id";

constexpr const char* live_lease_sql =
  "SELECT incarnation, lease_expires_at::text FROM cluster_nodes "
  "WHERE node_id = $1 AND lease_expires_at > now()";

constexpr const char* drop_sql =
  "DELETE FROM cluster_nodes WHERE node_id = $1 AND incarnation = $2";

} // namespace

lease_renewal renew(pqxx::work& tx, const node_identity& self, const std::string& address,
                    int32_t lease_ms) {
  lease_renewal out;
  out.displaced =
    tx.exec_params1(renew_sql, self.id, self.incarnation, address, lease_ms)[0].as<int64_t>();
  out.live = live(tx);
  return out;
}

std::vector<cluster_node> live(pqxx::work& tx) {
  std::vector<cluster_node> out;
  for (const auto& row : tx.exec(live_sql))
    out.push_back(cluster_node{node_identity{row[0].as<std::string>(), row[1].as<int64_t>()},
                               row[2].as<std::string>()});
  return out;
}

std::optional<lease_reading> live_lease(pqxx::work& tx, const std::string& node_id) {
  auto rows = tx.exec_params(live_lease_sql, node_id);
  if (rows.empty())
    return std::nullopt;
  return lease_reading{rows[0][0].as<int64_t>(), rows[0][1].as<std::string>()};
}

bool drop(pqxx::work& tx, const node_identity& self) {
  return tx.exec_params0(drop_sql, self.id, self.incarnation).affected_rows() == 1;
}

} // namespace tandem::persistence::cluster_repo
