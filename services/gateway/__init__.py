"""gateway: streams documents' progress to WebSocket clients, snapshot first, then live."""
