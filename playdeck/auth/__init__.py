"""Who may do what: accounts, credentials (login sessions, API tokens), roles and permissions.

- ``models``: the tables;
- ``users``: create users, set passwords and roles, grant projects and zones;
- ``credentials``: log in (password + throttle), sessions, API tokens — issue, resolve, revoke;
- ``throttle``: failed logins slow the next attempt down;
- ``permissions``: the roles and what each may do, checked alike by the web UI, the API and the CLI.
"""
