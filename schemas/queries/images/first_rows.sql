-- Each image once, by the row it is read from: its unlabeled row first, then val, test, train. Infer
-- predicts an image once, in that row's split, and every reader (review, imported predictions,
-- reviewed rows of a manifest) opens that row's file or shard member. `splits` (NULL: all) limits
-- the rows considered, so an image in val and train is read from train when val is left out.
CREATE OR REPLACE TEMP MACRO first_rows(splits := NULL) AS TABLE
SELECT image_id, arg_min(split, rank) AS split, arg_min(path, rank) AS path,
       arg_min_null(shard, rank) AS shard, arg_min_null(member_offset, rank) AS member_offset,
       arg_min_null(bytes, rank) AS bytes, arg_min(format, rank) AS format
FROM (SELECT *, array_position(['unlabeled', 'val', 'test', 'train'], split) AS rank FROM images)
WHERE splits IS NULL OR list_contains(splits, split)
GROUP BY image_id
