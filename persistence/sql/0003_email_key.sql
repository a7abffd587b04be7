-- 0003_email_key: logins are unique and found by one canonical form of their e-mail,
-- the form the login failure counter also uses (common/text.hpp canonical_email: NFKC,
-- then full Unicode case folding; no invisible characters). lower(email) folded by the
-- database's locale, which other spellings of one address escaped (KELVIN SIGN,
-- fullwidth letters) and which the service could not reproduce.
--
-- Existing rows: email (the address as shown) is unchanged. An ASCII address's canonical
-- form is its ASCII lower case (NFKC and case folding change nothing else in ASCII), set
-- here; lower(email) was unique, so these keys are too. The few non-ASCII rows keep
-- email_key NULL until the service fills them at start-up with the same C++ function
-- (accounts::backfill_email_keys, after the migrations). A row whose address is refused
-- now (invisible characters) or whose key another row holds already (a look-alike
-- registered before this rule) stays NULL: it cannot log in, and the service logs its
-- user_id as a warning at each start for an operator to settle.
ALTER TABLE accounts ADD COLUMN email_key text;
UPDATE accounts SET email_key = lower(email COLLATE "C") WHERE email ~ '^[!-~]+$';
CREATE UNIQUE INDEX accounts_email_key ON accounts (email_key);
DROP INDEX accounts_email_lower_key;
