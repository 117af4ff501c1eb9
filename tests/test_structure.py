"""The shape of the code: no import cycles among our modules, no function over 60 lines, and the arrows
between parts that must not exist (a benchmark importing the test suite, accounts importing DNS).

These rules rot silently: an import added inside a function to dodge a cycle still makes one, and a long
function only grows. Reading the source with `ast` (nothing is imported) sees every `import`, at any depth,
including the ones inside functions. An edge goes to the module an import names; that importing a.b.c also
runs a/__init__ is not counted, since a package's __init__ importing its own modules is the usual pattern.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("playdeck", "runners", "webui", "bench", "testing")
MAX_FUNCTION_LINES = 60
# Alembic writes the migrations; each is one upgrade/downgrade pair reviewed as a whole.
EXEMPT_DIRS = ("playdeck/migrations",)


def _source_files():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(target: str, modules: set[str]) -> str | None:
    """The longest known module that `target` names (`a.b.c` may be module a.b's attribute c)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def _imported_names(tree: ast.AST, module: str, is_package: bool):
    """Every dotted name an import statement anywhere in `tree` may load, relative imports made absolute."""
    package_parts = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package_parts[: len(package_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                # `from a import b` loads a, and a.b when b is a submodule.
                yield f"{base}.{alias.name}"


def imported_names() -> dict[str, set[str]]:
    """Each of our modules and every dotted name its imports name, relative ones made absolute."""
    names = {}
    for path in _source_files():
        module = _module_name(path)
        tree = ast.parse(path.read_text(), filename=str(path))
        names[module] = set(_imported_names(tree, module, path.name == "__init__.py"))
    return names


def import_graph() -> dict[str, set[str]]:
    names = imported_names()
    modules = set(names)
    graph: dict[str, set[str]] = {}
    for module, imported in names.items():
        targets = {_resolve(name, modules) for name in imported}
        graph[module] = {target for target in targets if target and target != module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def long_functions() -> list[str]:
    found = []
    for path in _source_files():
        if any(path.is_relative_to(ROOT / exempt) for exempt in EXEMPT_DIRS):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_import_cycles():
    graph = import_graph()
    # The checker itself must see the graph: a resolver that found no edges would pass everything.
    assert "playdeck.models" in graph["playdeck.runs.requests"]
    cycles = import_cycles(graph)
    assert not cycles, "import cycles (each line one strongly connected set of modules):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles
    )


def test_cycle_finder_finds_a_cycle():
    # A hand-made graph, so a broken finder cannot make the test above pass by finding nothing.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_function_over_60_lines():
    offenders = long_functions()
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines (split them):\n" + "\n".join(offenders)


def test_benchmarks_do_not_import_the_test_suite():
    # Shared throwaway servers and the fault report live in testing/, which both use.
    offenders = sorted(
        f"{module} imports {name}"
        for module, names in imported_names().items()
        if module.split(".")[0] != "tests"
        for name in names
        if name == "tests" or name.startswith("tests.")
    )
    assert not offenders, "\n".join(offenders)


def test_accounts_do_not_import_dns():
    # DNS builds on accounts (zone editors); an arrow back makes the two one lump.
    graph = import_graph()
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.startswith("playdeck.auth")
        for target in targets
        if target.startswith("playdeck.dns")
    )
    assert not offenders, "\n".join(offenders)


# The core modules that open transactions of their own (``session_scope``), and why each must. Everywhere else
# the caller (a view, a CLI command, the worker, a reaper duty) owns the transaction and passes its session in.
# A new entry needs a reason of this kind: work between transactions that must not hold one (a git fetch, a
# directory or SMTP server, a playbook), or a reaper pass split into short transactions so it locks little.
TRANSACTION_OWNERS = {
    "playdeck.db": "defines session_scope",
    "playdeck.unit_of_work": "the unit of work: commits, then sends the messages it recorded",
    "playdeck.runs.requests": "resolves a git ref (a mirror fetch) before the run's own transaction",
    "playdeck.runs.source_refs": "reads the project, closes the session, then fetches its mirror",
    "playdeck.runs.dispatch": "the reaper's re-dispatch: reads and stamps a run around a broker send",
    "playdeck.runs.recovery": "reaper pass: each lost run recorded in a transaction of its own",
    "playdeck.runs.purge": "reaper pass: a run's events deleted a batch per transaction, pausing between",
    "playdeck.dns.scheduling": "the DNS change transaction that commits with its regeneration run (writing())",
    "playdeck.release_control.approval_expiry": "reaper pass: requests expired a batch per transaction",
    "playdeck.notifications.running_long": "reaper pass: each notice recorded in a transaction of its own",
    "playdeck.schedules.firing": "reaper pass: each fire in a transaction of its own (a loser stops alone)",
    "playdeck.pipelines.engine": "reaper pass: each step advanced in a transaction of its own",
    "playdeck.webhook_delivery": "claims a delivery, sends it over the network, records the outcome",
    "playdeck.releases.push_deploys": "a push hook: reads the project, fetches the mirror, then queues",
    "playdeck.releases.ref_listing": "fetches the mirror (per its cache time) with no transaction open",
    "playdeck.releases.shipping": "reads the deployed commit, then reads the mirror with no transaction open",
    "playdeck.auth.ldap.sync": "reads the whole directory first, then applies the changes in one transaction",
    "playdeck.auth.password_login": "asks the directory with no transaction open, records the outcome after",
    "playdeck.auth.login_form": "the signing key made on first use: the first of racing web processes wins",
    "playdeck.metrics": "a Prometheus scrape: collect() is called by the client library, not by a view",
}


def test_core_services_leave_the_transaction_to_their_caller():
    opened = set()
    for path in (ROOT / "playdeck").rglob("*.py"):
        module = _module_name(path)
        if module.startswith(("playdeck.cli", "playdeck.migrations")) or module in ("playdeck.reaper",):
            continue  # the CLI and the reaper's loop are callers
        if "session_scope" in path.read_text():
            opened.add(module)
    unexplained = sorted(opened - set(TRANSACTION_OWNERS))
    assert not unexplained, (
        "open no transaction here (take the caller's session), or say why in TRANSACTION_OWNERS: "
        + ", ".join(unexplained)
    )
    gone = sorted(set(TRANSACTION_OWNERS) - opened)
    assert not gone, "no longer open transactions (drop them from TRANSACTION_OWNERS): " + ", ".join(gone)
