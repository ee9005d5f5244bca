WITH r AS (
    SELECT round FROM checkpoints UNION SELECT round FROM predictions
    UNION SELECT round FROM manifests
)
SELECT r.round,
       (SELECT count(*) FROM checkpoints c WHERE c.round = r.round) AS checkpoints,
       (SELECT count(*) FROM predictions p WHERE p.round = r.round) AS predictions,
       (SELECT count(*) FROM manifests m WHERE m.round = r.round) AS manifest_rows
FROM r ORDER BY r.round
