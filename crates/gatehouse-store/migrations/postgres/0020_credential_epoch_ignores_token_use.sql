-- A token's last-use stamp is bookkeeping, not part of what authenticates
-- it: stamping it (once a minute per token in use) must not move the
-- credential epoch, or every node's credential cache empties once a minute
-- per busy token. The trigger now names every column of `api_tokens` but
-- `last_used_at`; a column added later must be added here too (the test
-- `credential_epoch::the_token_trigger_watches_every_column_but_last_use`
-- fails until it is).

DROP TRIGGER api_tokens_advance_credential_epoch ON api_tokens;
CREATE TRIGGER api_tokens_advance_credential_epoch
    AFTER INSERT OR DELETE OR TRUNCATE
    OR UPDATE OF id, identity_id, token_hash, description, created_at, expires_at, revoked_at, created_by,
                 trust_binding_id, mfa_verified_at
    ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
