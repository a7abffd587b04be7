#include "persistence/accounts_repo.hpp"

namespace tandem::persistence::accounts {

namespace {

// ON CONFLICT DO NOTHING turns a taken email (the unique index on lower(email)) into
// an empty result instead of an exception, so a routine 409 is not logged as an error.
const std::string insert_account = R"(
  INSERT INTO accounts (email, password_hash) VALUES ($1, $2)
  ON CONFLICT DO NOTHING
  RETURNING user_id, email, password_hash)";

// lower(email) = lower($1) is the expression of accounts_email_lower_key: an index scan.
const std::string select_by_email = R"(
  SELECT user_id, email, password_hash FROM accounts WHERE lower(email) = lower($1))";

account account_from_row(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()};
}

} // namespace

caf::expected<account> insert(pqxx::work& tx, const std::string& email,
                              const std::string& password_hash) {
  auto res = tx.exec_params(insert_account, email, password_hash);
  if (res.empty())
    return caf::make_error(errc::already_exists, "Email already registered");
  return account_from_row(res[0]);
}

caf::expected<account> find_by_email(pqxx::work& tx, const std::string& email) {
  auto res = tx.exec_params(select_by_email, email);
  if (res.empty())
    return caf::make_error(errc::not_found, "No such account");
  return account_from_row(res[0]);
}

} // namespace tandem::persistence::accounts
