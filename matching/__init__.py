"""tagmatch's science: tag space, ALS, joint embedding, FAISS search, evaluation, segments.

Pure Python + numpy/scipy/implicit/faiss. Never imports the service layer (api, FastAPI,
SQLAlchemy); an import-linter contract and a test enforce it.
"""
