"""RGB-D perception: simulated sensors and the streaming object-map pipeline."""
