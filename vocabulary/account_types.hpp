// The account and token types that cross actors (accounts actor, database facade,
// password hasher, HTTP routes).
#pragma once

#include <caf/all.hpp>

#include <cstdint>
#include <string>

namespace tandem {

/// A stored login: `accounts` row (persistence/sql/0001_init.sql).
struct account {
  std::string user_id;
  std::string email;          ///< as registered; compared case-insensitively
  std::string password_hash;  ///< argon2id, PHC string format
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account& x) {
  return f(caf::meta::type_name("account"), x.user_id, x.email, x.password_hash);
}

/// What register, login and refresh answer (docs/api.md, Accounts and tokens).
struct token_pair {
  std::string user_id;
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;     ///< lifetime of the access token in seconds
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_pair& x) {
  return f(caf::meta::type_name("token_pair"), x.user_id, x.access_token, x.refresh_token,
           x.expires_in);
}

} // namespace tandem
