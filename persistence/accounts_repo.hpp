// The SQL of logins (table `accounts`): free functions over an open transaction, run
// by the database facade's workers. Inputs are validated by the accounts actor; the
// table's CHECKs and its unique index on email_key, the canonical form of the email
// (text::canonical_email), are the last line of defence.
#pragma once

#include "vocabulary/messages.hpp"

#include <pqxx/pqxx>

#include <string>

namespace tandem::persistence::accounts {

/// Inserts a login with a new user id and returns it, its email in NFKC as typed (case
/// kept); `errc::already_exists` ("Email already registered") when another login has
/// the same canonical email, `errc::invalid_request` when `email` has none.
caf::expected<account> insert(pqxx::work& tx, const std::string& email,
                              const std::string& password_hash);

/// Removes the login of `user_id`; whether there was one.
caf::expected<bool> remove(pqxx::work& tx, const std::string& user_id);

/// The login whose canonical email is that of `email`; `errc::not_found` when there is
/// none (or `email` has no canonical form).
caf::expected<account> find_by_email(pqxx::work& tx, const std::string& email);

/// Sets the email_key that migration 0003 left NULL (non-ASCII addresses) with
/// text::canonical_email; logs each row it cannot set (an address refused now, or a
/// key another login holds) as a warning. Returns how many it set. Blocking: call at
/// start-up after the migrations.
int backfill_email_keys(pqxx::connection_base& conn);

} // namespace tandem::persistence::accounts
