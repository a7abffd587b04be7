#include "persistence/accounts_repo.hpp"

#include "common/text.hpp"
#include "config/log.hpp"

namespace tandem::persistence::accounts {

namespace {

// ON CONFLICT DO NOTHING turns a taken email (the unique index on email_key) into an
// empty result instead of an exception, so a routine 409 is not logged as an error.
const std::string insert_account = R"(
  INSERT INTO accounts (email, email_key, password_hash) VALUES ($1, $2, $3)
  ON CONFLICT DO NOTHING
  RETURNING user_id, email, password_hash)";

const std::string select_by_email = R"(
  SELECT user_id, email, password_hash FROM accounts WHERE email_key = $1)";

account account_from_row(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()};
}

} // namespace

caf::expected<account> insert(pqxx::work& tx, const std::string& email,
                              const std::string& password_hash) {
  text::fault why = text::fault::none;
  auto key = text::canonical_email(email, why);
  if (!key)
    return caf::make_error(errc::invalid_request, std::string{"email "} + text::describe(why));
  auto res = tx.exec_params(insert_account, text::nfkc(email), *key, password_hash);
  if (res.empty())
    return caf::make_error(errc::already_exists, "Email already registered");
  return account_from_row(res[0]);
}

caf::expected<bool> remove(pqxx::work& tx, const std::string& user_id) {
  return tx.exec_params("DELETE FROM accounts WHERE user_id = $1", user_id).affected_rows() > 0;
}

caf::expected<account> find_by_email(pqxx::work& tx, const std::string& email) {
  text::fault why = text::fault::none;
  auto key = text::canonical_email(email, why);
  auto res = key ? tx.exec_params(select_by_email, *key) : pqxx::result{};
  if (res.empty())
    return caf::make_error(errc::not_found, "No such account");
  return account_from_row(res[0]);
}

int backfill_email_keys(pqxx::connection_base& conn) {
  std::vector<std::pair<std::string, std::string>> rows;
  {
    pqxx::read_transaction tx{conn};
    for (const auto& row : tx.exec("SELECT user_id, email FROM accounts WHERE email_key IS NULL"))
      rows.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
  }
  int filled = 0;
  for (const auto& [user_id, email] : rows) {
    text::fault why = text::fault::none;
    auto key = text::canonical_email(email, why);
    if (key) {
      // One transaction per row: a key held by another row fails this row alone.
      try {
        pqxx::work tx{conn};
        auto res = tx.exec_params(
          "UPDATE accounts SET email_key = $2 WHERE user_id = $1 AND email_key IS NULL",
          user_id, *key);
        tx.commit();
        filled += static_cast<int>(res.affected_rows());
        continue;
      } catch (const pqxx::unique_violation&) {
      }
    }
    log::warn("login without a canonical email cannot sign in; settle it by hand",
              {{"user_id", user_id},
               {"reason", key ? "another login has the same canonical email"
                              : std::string{"email "} + text::describe(why)}});
  }
  return filled;
}

} // namespace tandem::persistence::accounts
