#include "config/log.hpp"

#include "common/wall_clock.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace tandem::log {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::mutex out_mutex;

const char* level_name(level lvl) {
  switch (lvl) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
  }
  return "info";
}

} // namespace

void set_level(const std::string& name) {
  for (auto lvl : {level::debug, level::info, level::warn, level::error})
    if (name == level_name(lvl))
      min_level = static_cast<int>(lvl);
}

bool enabled(level lvl) {
  return static_cast<int>(lvl) >= min_level.load(std::memory_order_relaxed);
}

void write(level lvl, const std::string& msg, nlohmann::json fields) {
  if (!enabled(lvl))
    return;
  nlohmann::json line = {{"time", unix_now_iso8601()}, {"level", level_name(lvl)}, {"msg", msg}};
  if (fields.is_object())
    line.update(fields);
  // Replace invalid UTF-8 (e.g. from a client's path) rather than throw.
  auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::lock_guard<std::mutex> guard{out_mutex};
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

} // namespace tandem::log
