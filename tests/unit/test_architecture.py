"""The layout's contracts, read from the source with `ast` (nothing is imported):

- `mailproc.domain` imports only the standard library and itself;
- only `mailproc.store` imports peewee / playhouse, and no module outside it builds a query on
  a table (Model.select / update / create / …, or a back-reference such as `c.ptpps.where`);
- the modules' imports have no cycle (imports inside functions, made late on purpose, and
  those under TYPE_CHECKING do not count).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "mailproc"

MODELS = {"SchemaInfo", "SchemaMigration", "MailboxPosition", "NumberSequence", "Customer",
          "Complaint", "Ptpp", "Message", "Attachment", "Document", "FormSubmission", "Event",
          "Reminder", "ChainHead", "OutgoingMail", "User"}
BACKREFS = {"ptpps", "events", "messages", "attachments", "documents", "submissions",
            "reminders", "outgoing", "complaints"}
QUERY_METHODS = {"select", "update", "create", "insert", "insert_many", "delete",
                 "get", "get_or_none", "get_by_id", "get_or_create", "where", "order_by",
                 "count", "delete_instance", "save", "raw"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, name: str, *, top_level_only: bool) -> set[str]:
    """The modules `path` imports (absolute names); `top_level_only` skips imports inside
    functions and under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 \
                        else package
                    base = f"{anchor}.{base}" if base else anchor
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
            elif (isinstance(node, ast.If) and _is_type_checking(node)) or isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if not top_level_only:
                    visit(node.body)
            elif hasattr(node, "body") and isinstance(node.body, list):
                visit(node.body)  # try / with / if at module level
                for extra in ("orelse", "finalbody", "handlers"):
                    visit([s for h in getattr(node, extra, []) for s in
                           (h.body if isinstance(h, ast.ExceptHandler) else [h])])

    visit(tree.body)
    return found


def test_the_domain_imports_only_the_standard_library_and_itself():
    bad = []
    for name, path in modules().items():
        if not name.startswith("mailproc.domain"):
            continue
        for imported in imports(path, name, top_level_only=False):
            top = imported.split(".")[0]
            if top in ("__future__",) or top in sys.stdlib_module_names:
                continue
            if imported.startswith("mailproc.domain") or imported == "mailproc":
                continue
            bad.append(f"{name} imports {imported}")
    assert not bad, "\n".join(bad)


def test_only_the_store_imports_peewee():
    bad = [f"{name} imports {imported}"
           for name, path in modules().items() if not name.startswith("mailproc.store")
           for imported in imports(path, name, top_level_only=False)
           if imported.split(".")[0] in ("peewee", "playhouse")]
    assert not bad, "\n".join(bad)


def _query_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_METHODS):
            continue
        target = node.func.value
        # Model.select(...), store.Model.select(...), row.ptpps.where(...)
        named = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if named in MODELS or (isinstance(target, ast.Attribute) and target.attr in BACKREFS
                               and node.func.attr != "count"):
            found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} "
                         f"{ast.unparse(node.func)}(…)")
    return found


def test_no_query_is_built_outside_the_store():
    bad = [hit for name, path in modules().items() if not name.startswith("mailproc.store")
           for hit in _query_calls(path)]
    assert not bad, "queries outside mailproc/store:\n" + "\n".join(bad)


def test_the_contract_sees_a_query(tmp_path: Path):
    """The check above can fail: a query written the usual ways is found."""
    sample = tmp_path / "sample.py"
    sample.write_text("from mailproc import store\n"
                      "def f(c):\n"
                      "    store.Complaint.update(status='x').execute()\n"
                      "    Ptpp.select().where(Ptpp.cycle == 1)\n"
                      "    c.ptpps.order_by(1)\n", encoding="utf-8")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_query_calls(sample)) == 3
    finally:
        ROOT = saved


def test_the_module_imports_have_no_cycle():
    mods = modules()
    graph = {name: {i for i in imports(path, name, top_level_only=True) if i in mods}
             for name, path in mods.items()}
    # A package's __init__ is imported on the way to its modules: not an edge of its own.
    for name in graph:
        graph[name] = {m for m in graph[name] if m != name and not name.startswith(m + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))
