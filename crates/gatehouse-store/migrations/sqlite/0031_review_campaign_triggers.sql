-- What a trigger looks campaigns up by, without reading them all: a
-- vendor's renewal reviews (the lapse rule reads them for every standing)
-- and the pipeline-change reviews holding a project's deployments (read
-- for every `deployment.execute` decision).
CREATE INDEX review_campaigns_trigger ON review_campaigns (trigger_kind, trigger_subject);
CREATE INDEX review_campaigns_holds ON review_campaigns (holds) WHERE holds IS NOT NULL;
