"""The web page for the register and marketing administration's decisions (`mailproc serve`):
a thin entry, like the CLI, over the same use cases (mailproc.ptpp.workflow), read models
(mailproc.store) and reports (mailproc.reports). Flask, served by waitress; nothing but the
`serve` and `users` commands (mailproc/cli/web.py) imports it.

`app.create_app` builds the application; `server` finds the session key and serves it;
`auth` holds the password hashes, the sign-in limit and the CSRF token.
"""
