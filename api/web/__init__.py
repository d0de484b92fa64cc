"""The HTTP layer: routes, pages, schemas, auth and the helpers that serve documents."""
