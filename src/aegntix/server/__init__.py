"""The HTTP/WebSocket server: FastAPI app, REST API, live stream, web UI."""
