"""The run lifecycle, from a request to its purge.

Where a run is
- created: ``requests`` (validation of a ``run_request.RunRequest``, the release rules of
  ``playdeck.release_control.admission``, request_run records the queued row, submit_run);
- queued: ``dispatch`` sends its message through ``taskqueue`` (the Celery producer and queues), after the commit;
- executed: by a worker in ``runners/`` (runners.execution), which moves it with ``transitions``
  (claim, finish, cancel, supersede, control: conditional UPDATEs) under the environment's ``locks``;
- persisted: the ``runs`` row (playdeck.models), its log in ``events``, its recap by ``transitions`` (or, for a
  run stopped before its recap, from its events: ``host_outcomes``), why it ended badly in ``failure_summary``;
- shown: ``queries`` (get, list, the run page, the named questions: active, real deploy, last successful
  deploy), ``progress`` (tasks done, ETA) and ``attention`` (runs stuck), read by webui/ and the API.

Also: ``states`` (the state machine and run kinds), ``lost`` (runs of dead workers, retried by policy),
``relaunch`` (a new request from a finished run), ``purge`` (old runs leave the database).
Each function takes a SQLAlchemy ``Session`` and leaves the commit to its caller.
"""
