-- Delivery formats (issue 17, docs/webhooks.md): the body a hook receives —
-- json (Runledger's envelope), slack, teams, discord or pagerduty. A pagerduty
-- hook's integration key goes in every body (routing_key).
ALTER TABLE webhooks ADD COLUMN format text NOT NULL DEFAULT 'json';
ALTER TABLE webhooks ADD COLUMN routing_key text;
