"""The chat service: a FastAPI app over the `rag` library (`api.app.create_app`, started by `rag serve`)."""
