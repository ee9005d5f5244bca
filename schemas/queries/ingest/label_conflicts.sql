SELECT count(*) FROM ranked r JOIN images i USING (image_id, split)
WHERE NOT r.is_new AND r.label IS DISTINCT FROM i.label
