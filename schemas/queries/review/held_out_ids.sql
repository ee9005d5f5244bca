-- The wanted images that are held out (a val or test row): their tasks are marked as an audit.
SELECT DISTINCT w.image_id FROM wanted w SEMI JOIN images i ON i.image_id = w.image_id AND held_out(i.split)
