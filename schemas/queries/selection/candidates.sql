-- The scored predictions (scored.sql) and whether each image is excluded (it is in `excluded`:
-- val/test images and contaminated or non-representative duplicates).
CREATE OR REPLACE TEMP MACRO candidates(rnd) AS TABLE
SELECT * EXCLUDE (i0), image_id IN (SELECT image_id FROM excluded) AS is_excluded, i0
FROM scored(rnd)
