"""Stand-alone tools; hospital_client.py is the reference client of docs/api.md."""
