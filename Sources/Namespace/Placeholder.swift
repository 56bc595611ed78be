enum _PlaceholderNamespace {}
