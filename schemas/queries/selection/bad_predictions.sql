-- Confidences no teacher writes (NaN, infinite, outside [0, 1]): DuckDB sorts NaN above every
-- number, so a crafted table would be selected first. Reads one column: cheap at 10^8 rows. The
-- test is an aggregate's FILTER, not a WHERE: Parquet's min/max statistics leave NaN out, and a
-- WHERE pushed down to them would skip the very row groups that hold one.
SELECT count(*) FILTER (WHERE NOT (isfinite(confidence) AND confidence BETWEEN 0 AND 1))
FROM predictions WHERE round = $round AND split = 'unlabeled'
