SELECT kind, count(*) FROM negative_flips WHERE round_a = $round_a AND round_b = $round_b GROUP BY kind
