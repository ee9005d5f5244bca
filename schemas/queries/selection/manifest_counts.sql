SELECT target AS class_id, count(*) AS selected, sum(copies) AS copies, min(confidence) AS cutoff
FROM read_parquet($path) WHERE origin = 'pseudo' GROUP BY target
