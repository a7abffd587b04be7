// Schema migrations: numbered SQL files (persistence/sql/NNNN_name.sql) compiled
// into the binary, applied in order, each in its own transaction, under an
// advisory lock so that nodes starting together apply each one exactly once.
#pragma once

#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace tandem::persistence {

struct migration {
  int version;
  std::string name;
  std::string sql;
};

/// All migrations known to this binary, in version order.
const std::vector<migration>& known_migrations();

/// The highest version in `known_migrations()`.
int latest_migration_version();

/// Applies the missing migrations; returns how many were applied. Blocking:
/// call from `main` (tandem migrate, start-up) or a detached worker only.
/// Throws pqxx exceptions on failure; a failed migration is rolled back whole.
int apply_migrations(pqxx::connection_base& conn);

/// The highest applied version, 0 if `schema_migrations` does not exist yet.
int applied_migration_version(pqxx::connection_base& conn);

} // namespace tandem::persistence
