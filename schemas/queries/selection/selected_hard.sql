-- The selected pseudo rows with hard targets (materialised: it is small, and a known size lets
-- DuckDB build the join with the images on it).
CREATE OR REPLACE TEMP TABLE selected AS
SELECT image_id, class_id, confidence, copies, NULL::INTEGER[] AS target_index, NULL::FLOAT[] AS target_prob
FROM pseudo($round, $per_class, $seed)
