enum _PlaceholderConfig {}
