"""Other architectures doing docstream's work, measured side by side with it."""
