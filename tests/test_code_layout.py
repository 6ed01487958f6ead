"""The Python code's shape, as the README's "How the code is laid out" promises it: packages by concern whose
imports only point down, the benchmark outside the runtime package, short modules, no private APIs."""

from __future__ import annotations

import ast
from pathlib import Path

from orchestration.core.settings import REPO_ROOT

# Lowest first: a package may import from the packages before it, never from those after it.
LAYERS = ("core", "ingest", "ops", "serving", "dagster", "cli")
MAX_LINES = 500


def modules(*roots: str) -> list[Path]:
    return sorted(path for root in roots for path in (REPO_ROOT / root).rglob("*.py"))


def imported(path: Path) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def test_runtime_packages_import_only_downwards_and_never_the_benchmark() -> None:
    wrong = []
    for path in modules("orchestration"):
        parts = path.relative_to(REPO_ROOT / "orchestration").parts
        if len(parts) == 1:
            assert parts[0] == "__init__.py", f"{path}: every module belongs to a package of {LAYERS}"
            continue
        own = LAYERS.index(parts[0])
        for line, module in imported(path):
            top = module.split(".")
            if top[0] == "bench":
                wrong.append(f"{path.name}:{line} imports the benchmark ({module})")
            elif top[0] == "orchestration" and (len(top) < 2 or top[1] not in LAYERS):
                wrong.append(f"{path.name}:{line} imports {module}, which is in no package")
            elif top[0] == "orchestration" and LAYERS.index(top[1]) > own:
                wrong.append(f"{'/'.join(parts)}:{line} ({parts[0]}) imports {module} from above it")
    assert not wrong, "\n".join(wrong)


def test_no_module_is_longer_than_500_lines() -> None:
    long = {
        str(p.relative_to(REPO_ROOT)): n
        for p in modules("orchestration", "bench")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_no_private_module_of_another_package_is_imported() -> None:
    private = [
        f"{path.relative_to(REPO_ROOT)}:{line} {module}"
        for path in modules("orchestration", "bench", "tests")
        for line, module in imported(path)
        if not module.startswith(("orchestration", "bench"))
        and any(part.startswith("_") and part != "__future__" for part in module.split("."))
    ]
    assert not private, "\n".join(private)
