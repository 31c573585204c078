"""docstream's command-line tools (the ``docstream`` console script)."""
