"""The package layout of docs/ARCHITECTURE.md, read from the code: no import cycles, imports pointing down
the data flow only, a TensorFlow-free core, and exactly the packages pyproject.toml installs.

Imports are read with `ast` from every module, those inside functions included, so a cycle cannot
hide in a function body.
"""

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = {"charkeras": ROOT / "charkeras", "charkeras_cli": ROOT / "cli"}
# The stages of the data flow, lowest first; a stage may import itself and the stages before it.
# Modules directly in charkeras/ (errors, atomic writes, config, ...) are shared pieces below every stage.
STAGES = ("text", "sampling", "data", "model", "train", "artifact", "exporting", "runtime", "inspect", "web")
# What the LiteRT path and `--help` load: these must not import TensorFlow or Keras at module level,
# nor may anything they import at module level.
TF_FREE = ("charkeras.text.vocabulary", "charkeras.text.id_cache", "charkeras.sampling.numpy_sampler",
           "charkeras.artifact.card", "charkeras.runtime.loading", "charkeras.runtime.lite_model",
           "charkeras.inspect.describe", "charkeras.train.run.report", "charkeras.web.server",
           "charkeras.web.runtime_files", "charkeras_cli.main", "charkeras_cli.web_command")
HEAVY = ("tensorflow", "keras", "tensorflow_datasets", "tf_keras")


def module_files() -> dict[str, Path]:
    files = {}
    for top, directory in PACKAGE_DIRS.items():
        for path in directory.rglob("*.py"):
            parts = list(path.relative_to(directory).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join([top, *parts])] = path
    return files


MODULES = module_files()


def imports_of(name: str, module_level_only: bool = False) -> set[str]:
    """Absolute names of what module `name` imports (internal modules resolved to the module itself)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    is_package = MODULES[name].name == "__init__.py"
    nodes = tree.body if module_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                base = ".".join(anchor[:len(anchor) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


def internal_imports(name: str, module_level_only: bool = False) -> set[str]:
    return {i for i in imports_of(name, module_level_only) if i in MODULES and i != name}


def stage_of(name: str) -> int:
    """0 for the shared modules at the package root, 1.. for the stages in order; the CLI is above all."""
    parts = name.split(".")
    if parts[0] == "charkeras_cli":
        return len(STAGES) + 1
    if len(parts) == 1 or parts[1] not in STAGES:
        return 0
    return STAGES.index(parts[1]) + 1


def test_every_subpackage_directory_is_a_known_stage():
    subpackages = {p.name for p in (ROOT / "charkeras").iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == set(STAGES)


def test_no_import_cycles_anywhere():
    graph = {name: internal_imports(name) for name in MODULES}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def subpackage_of(name: str) -> str | None:
    """The subpackage of a stage that module `name` belongs to ("charkeras.train.distributed"), or None
    for a module directly in a stage (or the root)."""
    parts = name.split(".")
    package = ".".join(parts[:3])
    return package if len(parts) >= 3 and MODULES.get(package, Path()).name == "__init__.py" else None


def test_no_cycles_between_sibling_subpackages():
    """Inside a stage, subpackages (train.callbacks, train.distributed, ...) layer too: two of them never
    import each other, even through different modules."""
    edges = {(subpackage_of(name), subpackage_of(target)) for name in MODULES
             for target in internal_imports(name)}
    edges = {(a, b) for a, b in edges if a and b and a != b and a.rsplit(".", 1)[0] == b.rsplit(".", 1)[0]}
    both_ways = sorted(f"{a} <-> {b}" for a, b in edges if (b, a) in edges and a < b)
    assert not both_ways, "\n".join(both_ways)


def test_imports_point_down_the_data_flow():
    upward = [f"{name} (stage {stage_of(name)}) imports {target} (stage {stage_of(target)})"
              for name in sorted(MODULES) for target in sorted(internal_imports(name))
              if stage_of(target) > stage_of(name)]
    assert not upward, "\n".join(upward)


def test_the_checker_sees_function_level_imports_and_relative_imports():
    """The graph must include imports inside functions: load() imports the SavedModel runtime lazily."""
    assert "charkeras.runtime.signature_model" in internal_imports("charkeras.runtime.loading")
    assert "charkeras.runtime.signature_model" not in internal_imports("charkeras.runtime.loading", True)
    assert stage_of("charkeras.errors") == 0 < stage_of("charkeras.text.vocabulary") < stage_of("charkeras_cli.main")


@pytest.mark.parametrize("name", TF_FREE)
def test_tensorflow_free_core_modules(name):
    """Nothing reachable through module-level imports from `name` imports TensorFlow or Keras."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        heavy = {i for i in imports_of(current, module_level_only=True) if i.split(".")[0] in HEAVY}
        assert not heavy, f"{current} (loaded by {name}) imports {sorted(heavy)} at module level"
        todo.extend(internal_imports(current, module_level_only=True))


def test_pyproject_installs_every_package_and_no_top_level_cli():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert set(config["packages"]) == packages
    assert config["package-dir"] == {"charkeras_cli": "cli"}
    assert not any(p == "cli" or p.startswith("cli.") for p in config["packages"])
    assert config.get("py-modules", []) == []


def _run_python(code: str, *args: str) -> str:
    """Run `code` in a fresh interpreter from an empty directory, so only what pip installed is importable.

    Not the clone's parent: a clone named `charkeras` there is a namespace package that an editable
    install's finder loses to. Paths in `args` must therefore be absolute.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory(prefix="charkeras-probe-") as neutral:
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                                check=False, cwd=neutral, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_probes_run_outside_the_clone_and_its_parent():
    """The parent of a clone named `charkeras` would shadow the installed package."""
    cwd = Path(_run_python("import os; print(os.getcwd())")).resolve()
    assert cwd not in (ROOT, ROOT.parent) and ROOT not in cwd.parents
    assert not (cwd / "charkeras").exists()


_PROBE = """
import sys
from charkeras_cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
print(sorted(m for m in ("tensorflow", "keras", "cli") if m in sys.modules))
"""


def test_help_and_litert_generation_never_import_tensorflow():
    assert _run_python(_PROBE, "--help") == "[]"
    pytest.importorskip("ai_edge_litert")
    shipped = str(ROOT / "saved_models" / "shakespeare")
    assert _run_python(_PROBE, "generate", shipped, "--n", "20", "--seed", "1", "--runtime", "tflite") == "[]"
    assert _run_python(_PROBE, "info", shipped) == "[]"


def test_no_top_level_cli_module_is_importable_from_the_installation():
    """Run from outside the repository, so only what pip installed is on the path."""
    code = "import importlib.util; print(importlib.util.find_spec('cli') is None, " \
           "importlib.util.find_spec('charkeras_cli') is not None)"
    assert _run_python(code) == "True True"
