"""Every file the docs, the code's comments and the templates point at exists.

A newcomer follows these references to find where things live; after files move, a
dangling one sends them nowhere (docs/architecture.md).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *ROOT.glob("*.md"),
    *ROOT.glob("docs/*.md"),
    *ROOT.glob("bench/*.md"),
    *ROOT.glob("hospitals/data/*.md"),
    *(
        p
        for p in ROOT.glob("**/*.py")
        if ".venv" not in p.parts and "migrations" not in p.parts and p.name != "test_docs_references.py"
    ),
    *ROOT.glob("templates/**/*.html"),
    *ROOT.glob("static/js/*.js"),
    ROOT / "Makefile",
    ROOT / "Procfile",
    ROOT / ".importlinter",
]
# A repository path: at least one folder, then a file name with one of our extensions.
PATH_RE = re.compile(
    r"(?<![\w/.:@-])((?:\.\./)*(?:[A-Za-z_][\w-]*/)+[\w.-]+\.(?:py|md|html|js|css|csv|xsd|toml|txt|json))(?![\w/])"
)
# A bare docs page named from inside docs/ ("see search.md").
DOC_RE = re.compile(r"(?<![\w/.-])([a-z]+\.md)\b")
# Not files of this repository: URL paths, the shared folder beside it (../shared), other
# projects named as examples, the static files of installed packages.
IGNORED_PREFIXES = ("http", "tmp/", "/", "shared/", "hc/", "ninja/")
NOT_FILES = {
    "API/openapi.json",  # "<API>/openapi.json", a URL
    "search/results.json",  # a URL path (search/urls.py)
    "data/postcodetabel-postal-code-city-aggregated.json",  # a file of the upstream source
}
# Template names resolve in templates/, static file names in static/.
SEARCH_ROOTS = (ROOT, ROOT / "templates", ROOT / "static")


def references(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in PATH_RE.finditer(line):
            start = match.start()
            if "://" in line[max(0, start - 60) : start] and "/" in line[start - 1 : start + 1]:
                continue  # part of a URL
            found.append((number, match.group(1)))
        if path.parent.name == "docs":
            found.extend((number, f"docs/{m.group(1)}") for m in DOC_RE.finditer(line))
    return found


def resolves(reference: str, source: Path) -> bool:
    if reference.startswith(IGNORED_PREFIXES) or reference in NOT_FILES:
        return True
    if reference.startswith("../"):
        # ../shared/... lies beside the repository, not in it (DEVELOPERS.md).
        return (source.parent / reference).exists() or reference.startswith("../shared/")
    return any((root / reference).exists() for root in (*SEARCH_ROOTS, source.parent))


def test_every_referenced_file_exists() -> None:
    dangling = [
        f"{source.relative_to(ROOT)}:{line}: {reference}"
        for source in SOURCES
        if source.is_file()
        for line, reference in references(source)
        if not resolves(reference, source)
    ]
    assert dangling == []


def test_the_check_finds_a_dangling_reference(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("See `capacity/search.py` and docs/realtime.md, not https://example.org/a/b.py.\n")
    assert [ref for _line, ref in references(page) if not resolves(ref, page)] == ["capacity/search.py"]


# A module or one of its names, written as code in the docs: `capacity.services.unit_update_capacity`.
DOTTED_RE = re.compile(r"`((?:core|hospitals|capacity|search|refusals|api|config|tools)(?:\.[A-Za-z_]\w*)+)")
FILE_SUFFIXES = (".py", ".md", ".html", ".js", ".css", ".csv", ".json", ".txt", ".xsd", ".toml")


def names_resolve(dotted: str) -> bool:
    parts = dotted.split(".")
    if len(parts) == 2 and parts[1][:1].isupper():
        # Django's "app_label.Model" (hospitals.Postcode)
        try:
            apps.get_model(dotted)
        except LookupError:
            return False
        return True
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                target = getattr(target, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_module_and_name_the_docs_cite_exists() -> None:
    pages = [*ROOT.glob("*.md"), *ROOT.glob("docs/*.md"), *ROOT.glob("bench/*.md")]
    dangling = [
        f"{page.relative_to(ROOT)}:{number}: {match.group(1)}"
        for page in pages
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1)
        for match in DOTTED_RE.finditer(line)
        if not match.group(1).endswith(FILE_SUFFIXES) and not names_resolve(match.group(1))
    ]
    assert dangling == []
