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

/// One numbered schema change; `sql` runs inside the transaction that records it,
/// so it must not contain BEGIN/COMMIT.
struct migration {
  int version;      ///< From the file name's 4-digit prefix.
  std::string name; ///< The rest of the file name: "0001_init.sql" is "init".
  std::string sql;
};

/// Key of the session-level advisory lock held while migrations are applied.
constexpr long long migration_lock_key = 0x74616e64656d3031; // "tandem01"

/// All migrations known to this binary, in version order. Throws
/// `std::logic_error` (at start-up, from `main`) when the embedded files are not
/// numbered 1, 2, 3... without gaps or duplicates.
const std::vector<migration>& known_migrations();

/// Throws `std::logic_error` unless the versions of `list` are 1..N in order.
void check_migration_sequence(const std::vector<migration>& list);

/// The highest version in `known_migrations()`.
int latest_migration_version();

/// Applies the missing migrations; returns how many were applied. Blocking:
/// call from `main` (tandem migrate, start-up) or a detached worker only.
/// Throws pqxx exceptions on failure; a failed migration is rolled back whole.
int apply_migrations(pqxx::connection_base& conn);

/// Applies the missing ones of `list` (checked with `check_migration_sequence`) the
/// same way; for tests and tools.
int apply_migrations(pqxx::connection_base& conn, const std::vector<migration>& list);

/// The highest applied version, 0 if `schema_migrations` does not exist yet.
int applied_migration_version(pqxx::connection_base& conn);

} // namespace tandem::persistence
