"""Logging in with the company's directory (LDAP, Active Directory).

- ``connection``: a connection over LDAPS or StartTLS (the certificate checked), bound with a password,
  every step bounded by timeouts; the configured servers tried in order;
- ``people``: find a person's entry by their login name (the name escaped: data, never filter syntax);
- ``entry_id``: the entry's stable id (entryUUID, objectGUID) a person's Playdeck user is linked by, so a
  renamed or moved entry is the same person;
- ``groups``: the groups a person is a member of, nested ones optionally, bounded in number;
- ``login``: ``authenticate(name, password)`` -> ``ExternalIdentity``: the service account finds the person,
  their own password binds as them, the service account reads their groups.
"""
