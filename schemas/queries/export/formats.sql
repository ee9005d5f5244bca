-- The image format of each wanted image (its file extension in an export).
SELECT image_id, min(format) AS format FROM images
WHERE image_id IN (SELECT image_id FROM wanted) GROUP BY image_id
