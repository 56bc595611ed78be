enum _PlaceholderFuseKit {}
