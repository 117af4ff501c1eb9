"""Releases of a project to its environments: what is deployed where, what a deploy would ship, rolling back,
and deploying on a push to git.

Modules, each taking a SQLAlchemy ``Session`` where it reads the database and leaving the commit to the caller;
git is only ever read from a project's mirror, fetched outside any transaction:

- ``deployments``: an environment's deployed run and its "Deployed versions" history (``Deployment``);
- ``host_versions``: what each host of an environment runs now, from what runs did to it (``HostVersion``);
- ``rollback``: the request that rolls an environment back to the commit before the current one, or to a run's;
- ``ref_listing``: the branches and tags a deploy form offers (``list_refs``, cached per mirror fetch);
- ``shipping``: what deploying a ref to an environment ships (``what_will_ship``);
- ``push_payloads``: a GitHub, Gitea or GitLab push hook's signature checked and its payload read (``Push``);
- ``push_deploys``: a verified push refreshes the mirror and queues the deploy its branch maps to.
"""
