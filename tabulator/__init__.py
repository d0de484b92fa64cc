"""tabulator's pure core: election types, validation rules, aggregation, metrics and file readers.

No Flask and no SQLAlchemy here: this package can be imported in a notebook. The service in `api/`
composes it.
"""
