SELECT count(*) FROM excluded
