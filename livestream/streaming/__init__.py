"""Getting a lecture's video from the encoder to the viewers (push and play URLs)."""
