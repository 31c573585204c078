"""docstream for its users and operators: the Python client (``docstream.client``) and the
``docstream`` command (``docstream.cli``)."""
