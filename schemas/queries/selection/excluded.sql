-- Images that never become pseudo labels: val/test images, images people labeled in review (they
-- are labeled rows now), and contaminated or non-representative duplicates.
CREATE OR REPLACE TEMP TABLE excluded AS
SELECT DISTINCT image_id FROM (
    SELECT image_id FROM images WHERE held_out(split)
    UNION ALL
    SELECT image_id FROM reviews
    UNION ALL
    SELECT image_id FROM duplicates
    WHERE round = $round AND excluded AND (NOT $keep_duplicates OR held_out(scope))
)
