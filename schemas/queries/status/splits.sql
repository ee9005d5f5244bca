SELECT split, count(*) FROM images GROUP BY split ORDER BY split
