"""Evidence: photos, videos and documents attached to a case, checked, hashed and stored as proof."""
