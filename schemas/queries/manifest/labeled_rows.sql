-- The labeled rows of a manifest: the labeled train images, and the images people labeled in review
-- (`reviews`: the newest review of each, when it names a class (a reject names none), unless the
-- image is a labeled train image already, or a held-out val/test image: a review of one is an
-- audit, and held-out images never train). Round
-- 0's manifest and the labeled part of each selection's (a temporary view the queries that need it name).
CREATE OR REPLACE TEMP VIEW labeled_rows AS
SELECT i.image_id, i.path, 'labeled' AS origin, c.class_id AS target, NULL::INTEGER[] AS target_index,
       NULL::FLOAT[] AS target_prob, 1 AS copies, CAST(1.0 AS FLOAT) AS weight, NULL::FLOAT AS confidence
FROM images i JOIN classes c ON i.label = c.name
WHERE i.split = 'train'
UNION ALL
SELECT r.image_id, f.path,
       'labeled' AS origin, c.class_id AS target, NULL::INTEGER[], NULL::FLOAT[], 1, CAST(1.0 AS FLOAT), NULL::FLOAT
FROM (SELECT image_id, label FROM reviews
      QUALIFY row_number() OVER (PARTITION BY image_id ORDER BY imported_at DESC, review_id DESC) = 1) r
JOIN classes c ON r.label = c.name JOIN first_rows() f USING (image_id)
WHERE r.image_id NOT IN (SELECT image_id FROM images WHERE (split = 'train' AND label IS NOT NULL)
                                                        OR held_out(split))
