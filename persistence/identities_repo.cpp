#include "persistence/identities_repo.hpp"

namespace tandem::persistence::identities {

namespace {

// One round trip in the usual cases: the mapping exists, or this statement inserts it.
// ON CONFLICT names the key so that a clash of the random user_id still raises.
const std::string find_or_insert = R"(
  WITH found AS (
    SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2),
  inserted AS (
    INSERT INTO external_identities (issuer, subject)
    SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM found)
    ON CONFLICT (issuer, subject) DO NOTHING
    RETURNING user_id)
  SELECT user_id FROM found UNION ALL SELECT user_id FROM inserted)";

const std::string select_mapping = R"(
  SELECT user_id FROM external_identities WHERE issuer = $1 AND subject = $2)";

} // namespace

std::string map_external(pqxx::work& tx, const std::string& issuer, const std::string& subject) {
  auto res = tx.exec_params(find_or_insert, issuer, subject);
  if (!res.empty())
    return res[0][0].as<std::string>();
  // Another transaction inserted the row after this statement's snapshot was taken (the
  // INSERT waited for it and did nothing): a new statement sees it under READ COMMITTED.
  return tx.exec_params1(select_mapping, issuer, subject)[0].as<std::string>();
}

} // namespace tandem::persistence::identities
