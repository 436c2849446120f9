"""Access: who may use a shared app, and which server folders the browser may reach.

It owns the users file, roles, scrypt password hashes and sign-in limits (``auth``) and
the data folders the browser may list and pick from (``folders``: no server path ever
comes from the browser, no symbolic link or ``..`` leads out of them).

May import: base.
"""
