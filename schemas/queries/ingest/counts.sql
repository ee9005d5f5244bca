SELECT count(*) FILTER (is_new), count(*) FILTER (NOT is_new) FROM ranked
