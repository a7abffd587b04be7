#include "config/secrets.hpp"

#include "config/log.hpp"

#include <fstream>
#include <sstream>

namespace tandem::config {

namespace {

/// Reads a key file; trailing whitespace is dropped because editors and `echo`
/// append a newline that is not part of the key.
std::string read_key_file(const std::string& path, const char* file_key) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw config_error(std::string{file_key} + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto key = text.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '
                          || key.back() == '\t'))
    key.pop_back();
  if (key.empty())
    throw config_error(std::string{file_key} + ": " + path + " is empty");
  return key;
}

std::string resolve_key(const app_config& cfg, const std::string& value, const std::string& file,
                        const char* value_key, const char* file_key,
                        const char* development_key) {
  if (!value.empty() && !file.empty())
    throw config_error(std::string{"set "} + value_key + " or " + file_key + ", not both");
  auto key = !file.empty() ? read_key_file(file, file_key) : value;
  auto production = cfg.node.mode == "production";
  if (key.empty()) {
    if (production)
      throw config_error(std::string{"node.mode=production requires "} + value_key + " or "
                         + file_key);
    log::warn("no key configured, using the public development key",
              {{"key", value_key}, {"node.mode", cfg.node.mode}});
    return development_key;
  }
  if (production && key == development_key)
    throw config_error(std::string{"node.mode=production refuses the development key in "}
                       + value_key);
  if (production && key.size() < min_production_key_bytes)
    throw config_error(std::string{"node.mode=production requires "} + value_key + " of at least "
                       + std::to_string(min_production_key_bytes) + " bytes");
  return key;
}

} // namespace

std::string resolve_jwt_key(const app_config& cfg) {
  return resolve_key(cfg, cfg.auth.jwt_key, cfg.auth.jwt_key_file, "auth.jwt_key",
                     "auth.jwt_key_file", development_jwt_key);
}

std::string resolve_media_url_key(const app_config& cfg) {
  return resolve_key(cfg, cfg.media.url_key, cfg.media.url_key_file, "media.url_key",
                     "media.url_key_file", development_media_url_key);
}

} // namespace tandem::config
