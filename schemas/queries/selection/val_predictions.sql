-- Round `round`'s val predictions (selection/val_rows), by class, most confident first.
SELECT class_id, confidence, correct FROM val_rows($round) ORDER BY class_id, confidence DESC, image_id
