// The sweep of a registry's keys in a cluster (docs/cluster.md, Ownership): every
// `sweep_interval` the registry pages through the keys the database says this node
// owns and releases those that no actor here holds. An actor releases its own key when
// it passivates (release_key), but a release can still be lost (the database down for
// longer than its tries) and a fenced node stops its actors without releasing. Such a
// key stays this node's for as long as its lease lives, i.e. as long as it runs, and a
// key whose home is now another node is refused there all that time. Releasing is
// guarded by the epoch read with the key, so a key claimed again meanwhile is kept.
#pragma once

#include "config/log.hpp"
#include "vocabulary/messages.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tandem {

/// Keys read per page of a sweep: one indexed range of key_owners.
inline constexpr int32_t sweep_page_size = 1000;

/// Sweeps the page of this node's keys after `after` ("" for the first), then the next
/// page once the page's release has answered, so that one sweep asks one thing of the
/// database at a time; after the last page the next sweep starts in `sweep_interval`.
/// `owned` and `release` are the database's atoms for the registry's kind of key
/// (owned_users and release_users, or owned_conversations and release_conversations).
/// `Self` is a registry whose state has `db`, `actors` (a keyed_actors) and `settings`
/// with `cluster_node`, `request_timeout` and `sweep_interval`. `what` names the keys in
/// logs.
template <class Self, class OwnedAtom, class ReleaseAtom>
void sweep_keys(Self self, OwnedAtom owned, ReleaseAtom release, const char* what,
                const std::string& after) {
  auto& settings = self->state.settings;
  if (!settings.cluster_node)
    return;  // a single node claims nothing
  auto node = *settings.cluster_node;
  auto timeout = settings.request_timeout;
  auto next = [self](std::string from) {
    auto interval = self->state.settings.sweep_interval;
    if (!from.empty())
      self->send(self, atom::sweep_keys_v, std::move(from));
    else if (interval > caf::timespan{})
      self->delayed_send(self, interval, atom::sweep_keys_v, std::string{});
  };
  self->request(self->state.db, timeout, owned, node, after, sweep_page_size)
    .then(
      [=](const std::vector<owned_key>& page) {
        auto rest = page.size() < static_cast<std::size_t>(sweep_page_size) ? std::string{}
                                                                             : page.back().key;
        auto unheld = self->state.actors.unheld(page);
        if (unheld.empty())
          return next(std::move(rest));
        self->request(self->state.db, timeout, release, std::move(unheld), node)
          .then(
            [=](int32_t released) {
              if (released > 0) {
                self->state.actors.count_swept(static_cast<uint64_t>(released));
                log::info("released keys this node owned without an actor",
                          {{"kind", what}, {"keys", released}});
              }
              next(rest);
            },
            [=](caf::error& err) {
              log::warn("sweep: could not release keys; trying again at the next sweep",
                        {{"kind", what}, {"error", describe(err)}});
              next({});
            });
      },
      [=](caf::error& err) {
        log::warn("sweep: could not list this node's keys; trying again at the next sweep",
                  {{"kind", what}, {"error", describe(err)}});
        next({});
      });
}

/// Starts a registry's sweeps: the first after one `sweep_interval`. Nothing on a single
/// node or with the interval zero.
template <class Self>
void schedule_sweeps(Self self) {
  const auto& settings = self->state.settings;
  if (settings.cluster_node && settings.sweep_interval > caf::timespan{})
    self->delayed_send(self, settings.sweep_interval, atom::sweep_keys_v, std::string{});
}

} // namespace tandem
