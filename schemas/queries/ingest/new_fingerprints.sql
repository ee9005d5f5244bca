SELECT image_id, any_value(thumbnail ORDER BY seq) AS thumbnail
FROM ranked WHERE is_new GROUP BY image_id ORDER BY image_id
