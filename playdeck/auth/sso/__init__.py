"""Logging in with the company's identity (single sign-on): OpenID Connect and LDAP.

- ``identity``: who a provider says logged in (``ExternalIdentity``), whatever the provider;
- ``models``: the group mapping rules, the link of a Playdeck user to their provider account, the
  OpenID Connect logins under way;
- ``rules``: manage the mapping rules (admins);
- ``mapping``: sign an identity in: create the user on first login, apply the rules at every login;
- ``oidc``: OpenID Connect (authorization code with PKCE) against any compliant provider.
"""
