"""Release control: the rules an environment sets on what reaches it, beyond who may press Deploy.

- ``admission``: every rule a requested deploy must pass before its run is recorded, checked in the
  request's transaction (``check``), in the order of ``admission.RULES``.
- ``required_success``: the rule of an environment that accepts only what succeeded in another one first.
- ``promotion``: a deploy of a successful run's commit and parameters to another environment of its project.
- ``freeze_calendar``: when weekly, yearly and ad hoc freeze windows are in effect (pure, the clock given);
  ``freeze_windows`` stores them and says where an environment stands; ``freeze_rule`` refuses a deploy
  inside one, or records a release manager's override.
"""
