// Who owns a key when Tandem runs as a cluster (docs/cluster.md, Ownership): claims and
// releases of table key_owners, free functions over an open transaction like the other
// repositories. A claim's epoch is the fencing token that the key's durable writes
// carry (the fenced group commit in chat_repo, the user actors' social writes).
#pragma once

#include "vocabulary/messages.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::persistence::ownership {

/// The kinds of key_owners: a user or a conversation.
enum class key_kind : char { user = 'u', conversation = 'c' };

/// Claims `key` for `self` in one statement and returns the new epoch (1 for a key never
/// claimed, one more than the last otherwise). Taken over only when its owner is `self`
/// (same id and incarnation), released it, or has no live lease in cluster_nodes by the
/// database clock; else `errc::moved`.
caf::expected<int64_t> claim(pqxx::work& tx, key_kind kind, const std::string& key,
                             const node_identity& self);

/// Marks `key` free when `self` still owns it with `epoch`, so that the next claim needs
/// no lease to expire; the epoch stays, so no write of this or an older epoch can
/// commit after the release. Returns whether it was released.
bool release(pqxx::work& tx, key_kind kind, const std::string& key, const node_identity& self,
             int64_t epoch);

/// The keys of `kind` that `node` (that incarnation) still owns, with their epochs, by
/// key: at most `limit` of those after `after` ("" for the first). What a node that
/// left the live set held, for the nodes that take it over; a page of a node's own
/// keys, for its sweep.
std::vector<owned_key> owned_by(pqxx::work& tx, key_kind kind, const node_identity& node,
                                const std::string& after, int32_t limit);

/// Releases each of `keys` that `self` still owns with its epoch (see `release`);
/// returns how many were.
int32_t release_all(pqxx::work& tx, key_kind kind, const std::vector<owned_key>& keys,
                    const node_identity& self);

/// Locks the row of `key` (a claim waits for the lock) and tells whether it is still
/// owned with `epoch`: the first statement of a fenced write transaction.
bool hold(pqxx::work& tx, key_kind kind, const std::string& key, int64_t epoch);

} // namespace tandem::persistence::ownership
