-- The labeled train images as manifest rows: round 0's manifest, and the labeled part of each
-- selection's (a temporary view the queries that need it name).
CREATE OR REPLACE TEMP VIEW labeled_rows AS
SELECT i.image_id, i.path, 'labeled' AS origin, c.class_id AS target, NULL::INTEGER[] AS target_index,
       NULL::FLOAT[] AS target_prob, 1 AS copies, CAST(1.0 AS FLOAT) AS weight, NULL::FLOAT AS confidence
FROM images i JOIN classes c ON i.label = c.name
WHERE i.split = 'train'
