"""The operator console: HTML pages and static assets served by the API's own app.

The pages are thin: each is a template plus a script that calls the REST API under
``/api/v1`` with the browser's session cookie and CSRF token, so the console can do nothing
the API would not let the same user do. See ``docs/console.md``.
"""

from watchkeeper.web.console import PAGES, mount

__all__ = ["PAGES", "mount"]
