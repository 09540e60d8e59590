-- What a trigger looks campaigns up by, without reading them all: a
-- vendor's renewal reviews (the lapse rule reads them for every standing)
-- and the pipeline-change reviews holding a project's deployments (read
-- for every `deployment.execute` decision).
CREATE INDEX review_campaigns_trigger ON review_campaigns (trigger_kind, trigger_subject);
CREATE INDEX review_campaigns_holds ON review_campaigns (holds) WHERE holds IS NOT NULL;

-- An integration's standing now depends on its vendor's renewal review:
-- a decision on it or its close ends a lapse, so each moves the credential
-- epoch and every node reads the standing again. Opening a campaign does
-- not (nothing lapses by a review opening; the standing is asked again at
-- the renewal by itself), nor does a reminder.
CREATE TRIGGER review_decisions_advance_credential_epoch
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON review_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
CREATE TRIGGER review_campaigns_advance_credential_epoch
    AFTER UPDATE OF state OR DELETE OR TRUNCATE ON review_campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION credential_epoch_advance();
