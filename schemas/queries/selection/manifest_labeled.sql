SELECT count(*) FROM read_parquet($path) WHERE origin = 'labeled'
