-- 0006_group_title: a group conversation's title takes as many characters as a shared
-- page's title (512, wire/limits.hpp): one title limit for what the same clients send,
-- instead of 300 here and 512 there.
ALTER TABLE conversations DROP CONSTRAINT conversations_title_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_title_check
    CHECK (char_length(title) <= 512);
