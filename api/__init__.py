"""tabulator's service: settings, storage, the command line and the HTTP application."""

from api.app import create_app

__all__ = ["create_app"]
