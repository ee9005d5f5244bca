-- The withheld ground truth of the unlabeled pool (images.true_label, from `ingest
-- --withheld-labels` or a listing's label column for unlabeled rows), as class ids: one row per
-- image that has one. What pseudo labels and predictions are checked against in benchmarks.
SELECT DISTINCT i.image_id, c.class_id AS true_class
FROM images i JOIN classes c ON c.name = i.true_label
WHERE i.split = 'unlabeled'
