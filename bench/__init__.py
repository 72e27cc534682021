"""`make bench`: the API's speed on PostgreSQL at 10k, 30k and 100k students (bench/README.md).

Not part of the test suite: it drops and re-creates its own database and takes minutes.
"""
