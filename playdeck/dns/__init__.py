"""Internal DNS management: zones and records in the database, regenerated into BIND by a playbook.

Modules, each taking a SQLAlchemy ``Session`` and leaving the commit to the caller (one transaction per
request or task, like ``playdeck.runs``):

- ``zones``: create_zone, get_zone, list_zones, update_zone, delete_zone;
- ``records``: get_record, create_record, update_record, delete_record (``RecordRow``);
- ``listing``: list_records — search, sort, keyset pages (``RecordPage``);
- ``importing``: preview_import, apply_import (``ImportPreview``);
- ``export``: export_zone — the JSON contract the zone-file renderer reads;
- ``editors``: grant_zone, revoke_zone — who edits which zone (stored with the accounts);
- ``regeneration``: dirty_zones, deleted_zones, begin_run (a ``Regeneration`` of a live zone or the
  ``Removal`` of a deleted one), begin_regeneration, finish_regeneration, finish_removal, purge_zone;
- ``scheduling``: writing (a change's transaction, committed with its zones' runs), schedule /
  request_regeneration (a coalesced, spaced run per zone, sent when the caller commits), schedule_dirty
  (the reaper's);
- ``history``: list_changes — who changed what, before and after.

Underneath: ``models`` (tables), ``validation`` (one field at a time), ``rules`` (between records),
``changes`` (the one write path: zone lock, checks, rows, change_seq, history, automatic PTRs),
``reverse`` (which reverse zone covers an address), ``serials`` (RFC 1982), ``errors`` (StaleVersion).
Errors are ``playdeck.errors`` types: ValidationError (400, with the field), NotFound (404), Conflict
(409: a duplicate record, a zone that exists) and its subclass ``StaleVersion`` (a stale version).
"""
