-- The images `train --holdout` keeps out of training: per label, the first round(share x n) of
-- the labeled train images in the order of md5(image_id). Content alone decides (not ingest
-- order), so one share always names the same images, in every round; one image per class at
-- least stays in training. A temporary table the val evidence (selection/val_rows) joins.
CREATE OR REPLACE TEMP TABLE held_out AS
SELECT image_id, label FROM (
    SELECT image_id, label,
           row_number() OVER (PARTITION BY label ORDER BY md5(image_id), image_id) AS k,
           count(*) OVER (PARTITION BY label) AS n
    FROM (SELECT DISTINCT image_id, label FROM images WHERE split = 'train' AND label IS NOT NULL)
) WHERE k <= least(round($share * n), n - 1)
