"""Demo data for ``manage.py seed_demo``: place names, people, the AI programme, generators."""
