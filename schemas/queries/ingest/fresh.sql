CREATE OR REPLACE TEMP TABLE fresh AS
SELECT min(c.seq) AS seq, c.path FROM chunk c ANTI JOIN known_paths k ON c.path = k.path GROUP BY c.path
