"""docstream for its users: the Python client (``docstream.client``)."""
