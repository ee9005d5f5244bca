SELECT DISTINCT split FROM embeddings WHERE round = ? AND split <> 'unlabeled'
