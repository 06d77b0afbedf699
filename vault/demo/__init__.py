"""`vault demo`: sample exports built from code, and the guided run over them."""
