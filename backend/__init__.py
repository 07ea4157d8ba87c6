"""The coordinator: REST API, chain indexer, artifact store and Celery producer. Never imports torch."""
