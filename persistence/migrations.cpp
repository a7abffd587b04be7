#include "persistence/migrations.hpp"

#include "config/log.hpp"
#include "persistence/embedded_sql.hpp"

#include <pqxx/pqxx>

#include <set>
#include <stdexcept>

namespace tandem::persistence {

namespace {

/// "0001_init.sql" → {1, "init"}; the file name pattern is enforced by the glob
/// in persistence/CMakeLists.txt.
migration parse(const detail::sql_file& file) {
  std::string file_name = file.file_name;
  auto stem = file_name.substr(0, file_name.size() - 4); // without ".sql"
  return {std::stoi(file_name.substr(0, 4)), stem.substr(5), file.sql};
}

std::vector<migration> load_embedded() {
  std::vector<migration> result;
  for (auto& file : detail::embedded_sql_files())
    result.push_back(parse(file));
  check_migration_sequence(result);
  return result;
}

/// Holds the session-level advisory lock that serialises migration runs across
/// processes. Session-level, because each migration commits on its own.
class migration_lock {
public:
  explicit migration_lock(pqxx::connection_base& conn) : conn_(conn) {
    pqxx::nontransaction tx{conn_};
    tx.exec("SELECT pg_advisory_lock(" + std::to_string(migration_lock_key) + ")");
  }

  migration_lock(const migration_lock&) = delete;
  migration_lock& operator=(const migration_lock&) = delete;

  ~migration_lock() {
    try {
      pqxx::nontransaction tx{conn_};
      tx.exec("SELECT pg_advisory_unlock(" + std::to_string(migration_lock_key) + ")");
    } catch (const std::exception& e) {
      // The session is gone, and the server released the lock with it.
      log::warn("could not release the migration lock", {{"error", e.what()}});
    }
  }

private:
  pqxx::connection_base& conn_;
};

} // namespace

void check_migration_sequence(const std::vector<migration>& list) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto expected = static_cast<int>(i) + 1;
    auto version = list[i].version;
    if (version == expected)
      continue;
    std::string what = "migration " + std::to_string(version) + " (" + list[i].name + ") ";
    if (i > 0 && version == list[i - 1].version)
      throw std::logic_error(what + "has the same version as " + list[i - 1].name);
    throw std::logic_error(what + "is out of sequence: expected version "
                           + std::to_string(expected));
  }
}

const std::vector<migration>& known_migrations() {
  static const std::vector<migration> migrations = load_embedded();
  return migrations;
}

int latest_migration_version() {
  auto& all = known_migrations();
  return all.empty() ? 0 : all.back().version;
}

int apply_migrations(pqxx::connection_base& conn) {
  return apply_migrations(conn, known_migrations());
}

int apply_migrations(pqxx::connection_base& conn, const std::vector<migration>& list) {
  check_migration_sequence(list);
  // Another node may be migrating: wait for it, then see what is left to do.
  migration_lock lock{conn};
  {
    pqxx::work tx{conn};
    tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version int PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
  }
  std::set<int> applied;
  {
    pqxx::read_transaction tx{conn};
    for (auto row : tx.exec("SELECT version FROM schema_migrations"))
      applied.insert(row[0].as<int>());
  }
  int count = 0;
  for (auto& m : list) {
    if (applied.count(m.version) > 0)
      continue;
    pqxx::work tx{conn};
    tx.exec(m.sql);
    tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                   m.name);
    tx.commit();
    ++count;
    log::info("migration applied", {{"version", m.version}, {"name", m.name}});
  }
  return count;
}

int applied_migration_version(pqxx::connection_base& conn) {
  pqxx::read_transaction tx{conn};
  if (!tx.exec1("SELECT to_regclass('schema_migrations') IS NOT NULL")[0].as<bool>())
    return 0;
  return tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int>();
}

} // namespace tandem::persistence
