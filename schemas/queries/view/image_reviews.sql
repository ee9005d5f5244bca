-- Every review of an image, newest first.
SELECT label, predicted, annotator, annotated_at, source, imported_at
FROM reviews WHERE image_id = $image_id
ORDER BY imported_at DESC
