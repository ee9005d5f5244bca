SELECT count(*) FROM read_parquet(?) WHERE origin = 'labeled'
