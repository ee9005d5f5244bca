SELECT DISTINCT round FROM embeddings WHERE split = 'unlabeled' ORDER BY round
