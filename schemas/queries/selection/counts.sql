-- Selected images and copies per class, without writing anything (for --dry-run).
SELECT class_id, count(*) AS selected, sum(copies) AS copies, min(confidence) AS cutoff
FROM pseudo($round, $per_class, $seed) GROUP BY class_id
