-- How many images each pair of rounds moved from class a to class b (the diagonal counts images
-- that kept their class), per split.
SELECT a.round AS round_a, b.round AS round_b, a.split, a.class_id AS class_a, b.class_id AS class_b,
       ca.name AS name_a, cb.name AS name_b, count(*) AS images
FROM predictions a
JOIN predictions b ON b.image_id = a.image_id AND b.round > a.round
JOIN classes ca ON ca.class_id = a.class_id
JOIN classes cb ON cb.class_id = b.class_id
GROUP BY ALL
