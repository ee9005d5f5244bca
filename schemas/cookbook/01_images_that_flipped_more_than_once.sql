-- Images that flipped more than once
SELECT image_id, count(*) AS flips, list(name_a || '->' || name_b ORDER BY round_a) AS path
FROM label_flips
WHERE round_b = round_a + 1
GROUP BY image_id
HAVING count(*) > 1
ORDER BY flips DESC
