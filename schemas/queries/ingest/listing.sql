SELECT * FROM read_csv(?, header = true, all_varchar = true)
