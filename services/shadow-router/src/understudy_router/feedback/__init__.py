"""Ground truth: predictions stored off the live path, labels joined to them later.

``store`` is the storage port (one Protocol, SQLite and PostgreSQL backends), ``writer``
the bounded background batch writer, ``payload`` the pure validation of feedback bodies,
``metrics`` the realized-error metrics, ``service`` the glue, ``routes`` the HTTP edge.
"""
