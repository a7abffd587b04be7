// Structured logging: one JSON object per line on stdout, safe from any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace tandem::log {

enum class level { debug, info, warn, error };

/// Sets the lowest level that is written ("debug", "info", "warn", "error").
void set_level(const std::string& name);

bool enabled(level lvl);

/// Writes `{"time":..., "level":..., "msg": msg, ...fields}` as one line.
void write(level lvl, const std::string& msg, nlohmann::json fields = nlohmann::json::object());

inline void debug(const std::string& msg, nlohmann::json f = nlohmann::json::object()) {
  write(level::debug, msg, std::move(f));
}
inline void info(const std::string& msg, nlohmann::json f = nlohmann::json::object()) {
  write(level::info, msg, std::move(f));
}
inline void warn(const std::string& msg, nlohmann::json f = nlohmann::json::object()) {
  write(level::warn, msg, std::move(f));
}
inline void error(const std::string& msg, nlohmann::json f = nlohmann::json::object()) {
  write(level::error, msg, std::move(f));
}

} // namespace tandem::log
