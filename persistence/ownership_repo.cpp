#include "persistence/ownership_repo.hpp"

namespace tandem::persistence::ownership {

namespace {

// ON CONFLICT DO UPDATE locks the row first (waiting for a concurrent claim, then
// judging its outcome), so two claims of one key never both win. A released row has
// node_id '', which no cluster_nodes row has: anyone may take it at once.
const std::string claim_sql = R"(
INSERT INTO key_owners AS o (kind, key, node_id, incarnation, epoch)
VALUES ($1::"char", $2, $3, $4, 1)
ON CONFLICT (kind, key) DO UPDATE
   SET node_id = EXCLUDED.node_id, incarnation = EXCLUDED.incarnation, epoch = o.epoch + 1
 WHERE (o.node_id = EXCLUDED.node_id AND o.incarnation = EXCLUDED.incarnation)
    OR NOT EXISTS (SELECT 1 FROM cluster_nodes n
                    WHERE n.node_id = o.node_id AND n.incarnation = o.incarnation
                      AND n.lease_expires_at > now())
RETURNING epoch)";

const std::string release_sql = R"(
UPDATE key_owners SET node_id = '', incarnation = 0
 WHERE kind = $1::"char" AND key = $2 AND node_id = $3 AND incarnation = $4 AND epoch = $5)";

const std::string hold_sql = R"(
SELECT 1 FROM key_owners
 WHERE kind = $1::"char" AND key = $2 AND epoch = $3 AND node_id <> ''
   FOR UPDATE)";

// key_owners_node_idx (node_id, incarnation, kind, key) finds them in order.
const std::string owned_by_sql = R"(
SELECT key, epoch FROM key_owners
 WHERE node_id = $1 AND incarnation = $2 AND kind = $3::"char" AND key > $4
 ORDER BY key LIMIT $5)";

std::string kind_text(key_kind kind) {
  return std::string(1, static_cast<char>(kind));
}

} // namespace

caf::expected<int64_t> claim(pqxx::work& tx, key_kind kind, const std::string& key,
                             const node_identity& self) {
  auto res = tx.exec_params(claim_sql, kind_text(kind), key, self.id, self.incarnation);
  if (res.empty())
    return caf::make_error(errc::moved, "Owned by another node");
  return res[0][0].as<int64_t>();
}

bool release(pqxx::work& tx, key_kind kind, const std::string& key, const node_identity& self,
             int64_t epoch) {
  return tx.exec_params(release_sql, kind_text(kind), key, self.id, self.incarnation, epoch)
           .affected_rows()
         == 1;
}

std::vector<owned_key> owned_by(pqxx::work& tx, key_kind kind, const node_identity& node,
                                const std::string& after, int32_t limit) {
  std::vector<owned_key> out;
  for (const auto& row : tx.exec_params(owned_by_sql, node.id, node.incarnation,
                                        kind_text(kind), after, limit))
    out.push_back({row[0].as<std::string>(), row[1].as<int64_t>()});
  return out;
}

int32_t release_all(pqxx::work& tx, key_kind kind, const std::vector<owned_key>& keys,
                    const node_identity& self) {
  int32_t released = 0;
  for (const auto& k : keys)
    released += release(tx, kind, k.key, self, k.epoch) ? 1 : 0;
  return released;
}

bool hold(pqxx::work& tx, key_kind kind, const std::string& key, int64_t epoch) {
  return !tx.exec_params(hold_sql, kind_text(kind), key, epoch).empty();
}

} // namespace tandem::persistence::ownership
