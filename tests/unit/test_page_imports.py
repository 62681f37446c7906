"""No page imports another page: what pages share (words, lists, charts, links) lives beside them in dashboard/,
so a page can be changed, split or removed without reaching into its neighbours."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PAGES = ROOT / "dashboard" / "pages"


def imported_pages(path: Path) -> set[str]:
    """The pages a module imports from, by name (dashboard.pages.<name>...), relative imports resolved."""
    package = list(path.relative_to(ROOT).with_suffix("").parts)[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names = [module, *(f"{module}.{a.name}" for a in node.names)]
        found |= {n.split(".")[2] for n in names if n.startswith("dashboard.pages.")}
    return found


def test_no_page_imports_another_page():
    for path in PAGES.rglob("*.py"):
        own = path.relative_to(PAGES).parts[0].removesuffix(".py")
        assert imported_pages(path) <= {own}, f"{path.relative_to(ROOT)} imports {imported_pages(path) - {own}}"


def test_shared_modules_import_no_page():
    for path in (ROOT / "dashboard").glob("*.py"):
        if path.name != "app.py":  # the app registers the pages
            assert not imported_pages(path), f"{path.relative_to(ROOT)} imports a page"
