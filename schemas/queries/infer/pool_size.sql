SELECT count(*) FROM pool
