"""The model-api service: serves one versioned house-price model artifact over HTTP.

``create_app(settings)`` (``app.py``) builds the FastAPI app; the artifact loads in its
lifespan hook. ``python -m understudy_model_api`` runs it under uvicorn.
"""
