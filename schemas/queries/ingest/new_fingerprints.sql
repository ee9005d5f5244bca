SELECT image_id, any_value(thumbnail ORDER BY seq) AS thumbnail, any_value(colour ORDER BY seq) AS colour
FROM ranked WHERE is_new GROUP BY image_id ORDER BY image_id
