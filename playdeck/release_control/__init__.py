"""Release control: the rules an environment sets on what reaches it, beyond who may press Deploy.

- ``admission``: every rule a requested deploy must pass before its run is recorded, checked in the
  request's transaction (``check``), in the order of ``admission.RULES``.
"""
