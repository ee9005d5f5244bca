SELECT image_id, embedding, checkpoint_id FROM embeddings WHERE round = $round AND split = $split ORDER BY image_id
