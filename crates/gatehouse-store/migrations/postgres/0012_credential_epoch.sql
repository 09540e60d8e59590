-- A counter that every change to what authenticates a caller moves: a
-- token, an identity, its grants, whether it has a confirmed second
-- factor, or the trust bindings that let CI jobs act as it. Each `serve`
-- process keeps credentials (and verified CI tokens) in memory stamped
-- with the value it read before loading them, and reads the value again
-- for every request: a revocation committed through any process, or
-- by hand in SQL, holds on every node from its commit on, at the cost of a
-- one-row read instead of a four-table join.
--
-- Statement-level triggers in the changing transaction move it, so no
-- writer can forget to; the row lock they take orders such transactions.

CREATE TABLE credential_epoch (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    value     BIGINT NOT NULL
);
INSERT INTO credential_epoch (singleton, value) VALUES (TRUE, 0);

CREATE FUNCTION credential_epoch_advance() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credential_epoch SET value = value + 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER identities_advance_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
CREATE TRIGGER api_tokens_advance_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
CREATE TRIGGER grants_advance_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
CREATE TRIGGER trust_bindings_advance_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trust_bindings
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
-- Only enrolment matters to a credential; a code's use moves the other
-- columns on every sign-in.
CREATE TRIGGER mfa_totp_advance_credential_epoch
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF confirmed_at, identity_id ON mfa_totp
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
