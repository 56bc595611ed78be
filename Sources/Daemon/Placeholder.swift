enum _PlaceholderDaemon {}
