SELECT * FROM read_csv($path, header = true, all_varchar = true)
