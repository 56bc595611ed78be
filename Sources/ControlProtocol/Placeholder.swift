enum _PlaceholderControlProtocol {}
