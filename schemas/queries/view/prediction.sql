-- Round $round's prediction of an image: its class name and the checkpoint that made it.
SELECT c.name AS class_name, p.checkpoint_id
FROM predictions p JOIN classes c USING (class_id)
WHERE p.round = $round AND p.image_id = $image_id
LIMIT 1
