enum _PlaceholderAdminCLI {}
