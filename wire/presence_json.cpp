#include "wire/presence_json.hpp"

namespace tandem::wire {

namespace {

json presence_json(const presence_state& p) {
  if (!p.page)
    return {{"userId", p.user_id}, {"page", nullptr}, {"latestPage", nullptr}};
  return {{"userId", p.user_id},
          {"page", page_json(*p.page)},
          {"latestPage", page_json(p.latest ? *p.latest : page_info{})}};
}

} // namespace

json page_json(const page_info& page) {
  return {{"url", page.url}, {"title", page.title}, {"domain", domain_json(page.url)}};
}

json overview_json(const presence_overview& o) {
  auto friends = json::array();
  for (const auto& p : o.friends)
    friends.push_back(presence_json(p));
  auto cards = json::object();
  for (const auto& c : o.cards)
    cards[c.user_id] = {{"user_id", c.user_id},
                        {"first_name", c.first_name},
                        {"last_name", c.last_name},
                        {"profile_image_extension", text_or_null(c.profile_image_extension)}};
  return {{"userPresence", presence_json(o.me)}, {"presenceArr", friends}, {"userInfoMap", cards}};
}

json peek_json(const presence_state& p) {
  if (!p.page)
    return nullptr;
  return {{"url", p.page->url}, {"title", p.page->title}};
}

} // namespace tandem::wire
