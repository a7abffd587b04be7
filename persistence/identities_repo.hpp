// The SQL of external identities (table `external_identities`): the Tandem user id of
// an (issuer, subject) that an external ID token names, minted on first sight.
#pragma once

#include "vocabulary/messages.hpp"

#include <pqxx/pqxx>

#include <string>

namespace tandem::persistence::identities {

/// The Tandem user id mapped to (`issuer`, `subject`), inserting a new random one when
/// there is none. Nodes that see the same new identity at once all get the one id that
/// was committed first.
std::string map_external(pqxx::work& tx, const std::string& issuer, const std::string& subject);

} // namespace tandem::persistence::identities
