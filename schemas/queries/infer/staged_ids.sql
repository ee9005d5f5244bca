-- Images already in the staged part files (predictions and rejects) of an interrupted run.
INSERT INTO staged SELECT image_id FROM read_parquet($files::VARCHAR[])
