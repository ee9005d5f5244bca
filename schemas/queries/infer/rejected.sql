-- Images this run already found unreadable.
INSERT INTO staged
SELECT DISTINCT image_id FROM rejects WHERE stage = 'infer' AND round = $round AND source_id = $infer_id
