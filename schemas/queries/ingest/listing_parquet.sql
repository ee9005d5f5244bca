SELECT * FROM read_parquet(?)
