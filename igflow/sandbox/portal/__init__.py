"""The sandbox's developer portal: the pages of instagram.com/developer the seed walked through.

Server-rendered HTML (Jinja2 templates in ``templates/``, shipped in the package; no JavaScript,
no external resources): an index, "Register Your Application", registering a client, the
"Manage Clients" dashboard, a client's Details / Security / Sandbox tabs, and the user's
"Manage access" page with "Revoke access". The login is the OAuth login page's (``oauth.py``),
the CSRF tokens are ``csrf.py``'s, and every change goes through ``clients.OAuthState``, the
same calls the admin API and the CLI make.
"""
