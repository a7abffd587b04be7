// A stand-in for a connection's socket (`ws_link`) that records what the connection
// actor asks of it, for the deterministic connection tests.
#pragma once

#include "actors/connection_actor.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tandem_test {

/// Records the link calls of one connection (the test scheduler runs one thread).
struct recording_link : tandem::ws_link {
  bool accepted = false;
  std::optional<caf::error> refused;
  /// The text of each frame of each batch written.
  std::vector<std::vector<std::string>> batches;
  int reads = 0;
  std::optional<uint16_t> closed;

  void accept() override {
    accepted = true;
  }
  void refuse(caf::error err) override {
    refused.emplace(std::move(err));
  }
  void write(std::vector<tandem::shared_frame> frames) override {
    auto& batch = batches.emplace_back();
    for (const auto& f : frames)
      batch.push_back(f->text);
  }
  void read_more() override {
    ++reads;
  }
  void close(uint16_t code, std::string) override {
    closed = code;
  }
  void alarm(caf::timespan) override {
  }

  /// Every frame written so far, parsed.
  std::vector<nlohmann::json> frames() const {
    std::vector<nlohmann::json> out;
    for (const auto& b : batches)
      for (const auto& f : b)
        out.push_back(nlohmann::json::parse(f));
    return out;
  }
};

} // namespace tandem_test
