SELECT split, coalesce(label, true_label) AS class, label IS NULL AND true_label IS NOT NULL AS withheld,
       count(*) AS images
FROM images GROUP BY ALL ORDER BY split, class
