// The SQL of logins (table `accounts`): free functions over an open transaction, run
// by the database facade's workers. Inputs are validated by the accounts actor; the
// table's CHECKs and its unique index on lower(email) are the last line of defence.
#pragma once

#include "actors/messages.hpp"

#include <pqxx/pqxx>

#include <string>

namespace tandem::persistence::accounts {

/// Inserts a login with a new user id and returns it; `errc::already_exists` ("Email
/// already registered") when the email is taken in any letter case.
caf::expected<account> insert(pqxx::work& tx, const std::string& email,
                              const std::string& password_hash);

/// The login whose email equals `email` ignoring letter case; `errc::not_found` when
/// there is none.
caf::expected<account> find_by_email(pqxx::work& tx, const std::string& email);

} // namespace tandem::persistence::accounts
