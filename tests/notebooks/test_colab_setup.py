"""The notebooks' setup cell and requirements-colab.txt: how Colab gets the package.

The smoke runs (test_notebooks.py) execute the setup cell outside Colab only. Here the Colab side: the cell is
the same in every notebook, its source selection (checkout, copy on Drive, git clone, else a clear error) is
run from the cell's own code, and requirements-colab.txt leaves Colab's torch alone while covering every
runtime dependency the package declares.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
COLAB_REQUIREMENTS = ROOT / "requirements-colab.txt"
PLACEHOLDER_URL = "https://github.com/OWNER/stylegan2_ada.git"
# Preinstalled in Colab and possibly imported by its kernel already: an exact pin would replace Colab's copy.
COLAB_PREINSTALLED = {"numpy", "pillow", "scipy", "tqdm", "scikit-image", "opencv-python-headless", "imageio"}


def setup_cell(path: Path) -> str:
    """Source of the code cell under the notebook's "## Setup" heading."""
    cells = nbformat.read(path, as_version=4).cells
    (index,) = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Setup")]
    cell = cells[index + 1]
    assert cell.cell_type == "code", f"{path.name}: the cell after '## Setup' is not code"
    return cell.source


SETUP = setup_cell(NOTEBOOKS[0]) if NOTEBOOKS else ""


def requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.fixture()
def colab_source():
    """The cell's colab_source function, compiled from the notebook (its imports and functions only)."""
    tree = ast.parse(SETUP)
    keep = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef))]
    namespace: dict = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "setup cell", "exec"), namespace)  # noqa: S102 (the notebook's code)
    return namespace["colab_source"]


def make_project(folder: Path) -> Path:
    """A minimal project folder, with what a working checkout also holds and a copy should leave behind."""
    (folder / "stylegan2_ada").mkdir(parents=True)
    (folder / "stylegan2_ada" / "__init__.py").write_text("")
    (folder / "pyproject.toml").write_text("[project]\nname = 'stylegan2_ada'\n")
    (folder / "requirements-colab.txt").write_text("")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "results").mkdir()
    (folder / "results" / "big.safetensors").write_bytes(b"0" * 10)
    return folder


def test_setup_cell_identical_in_every_notebook() -> None:
    assert len(NOTEBOOKS) >= 9
    different = [p.name for p in NOTEBOOKS if setup_cell(p) != SETUP]
    assert not different, f"setup cell differs from {NOTEBOOKS[0].name}'s in {different}"
    # Colab installs requirements-colab.txt and the package without its dependencies (torch stays Colab's).
    assert '"-r", "requirements-colab.txt"' in SETUP and '"--no-deps", "-e", "."' in SETUP
    assert "requirements.txt" not in SETUP.replace("requirements-colab.txt", "")


def test_colab_requirements_leave_torch_alone() -> None:
    names = {canonicalize_name(r.name) for r in requirements(COLAB_REQUIREMENTS)}
    assert not names & {"torch", "torchvision", "torchaudio", "nvidia-cudnn-cu12", "triton"}


def test_colab_requirements_cover_the_declared_dependencies() -> None:
    project = pyproject()
    extras = project["optional-dependencies"]
    declared = [Requirement(s) for s in project["dependencies"] + extras["faces"] + extras["video"] + extras["all"]]
    needed = {canonicalize_name(r.name) for r in declared} - {"torch", "stylegan2-ada"}
    listed = {canonicalize_name(r.name) for r in requirements(COLAB_REQUIREMENTS)}
    assert needed <= listed, f"missing from requirements-colab.txt: {sorted(needed - listed)}"


def test_colab_requirements_keep_colab_versions_and_the_tested_ones() -> None:
    tested = {canonicalize_name(r.name): r for r in requirements(ROOT / "requirements.txt")}
    for req in requirements(COLAB_REQUIREMENTS):
        name = canonicalize_name(req.name)
        operators = {spec.operator for spec in req.specifier}
        if name in COLAB_PREINSTALLED:
            assert operators and operators <= {">=", "<"}, f"{req}: Colab preinstalls {name}, give a lower bound"
        if name in tested:  # the version requirements.txt pins (and the tests use) is one Colab may install
            (pin,) = tested[name].specifier
            assert req.specifier.contains(pin.version), f"{req} excludes the tested {tested[name]}"
    opencv = {canonicalize_name(r.name): r for r in requirements(COLAB_REQUIREMENTS)}["opencv-python-headless"]
    assert not opencv.specifier.contains("5.0.0")  # 5.x has no Haar cascades, the fallback face detector


def test_colab_source_prefers_the_copy_on_drive(colab_source, tmp_path: Path) -> None:
    drive_code = make_project(tmp_path / "MyDrive" / "stylegan2_ada_code")
    dest = tmp_path / "content" / "stylegan2_ada"
    # The placeholder URL is no obstacle when Drive has the code; nothing is cloned.
    assert colab_source(drive_code, dest, PLACEHOLDER_URL) == dest
    assert (dest / "pyproject.toml").is_file() and (dest / "stylegan2_ada" / "__init__.py").is_file()
    assert not (dest / ".git").exists() and not (dest / "results").exists()


def test_colab_source_unpacks_a_zip_on_drive(colab_source, tmp_path: Path) -> None:
    project = make_project(tmp_path / "stylegan2_ada-main")
    drive_code = tmp_path / "MyDrive" / "stylegan2_ada_code"
    drive_code.parent.mkdir()
    with zipfile.ZipFile(drive_code.with_suffix(".zip"), "w") as zf:  # GitHub's layout: one top folder
        for file in project.rglob("*"):
            zf.write(file, file.relative_to(tmp_path))
    dest = tmp_path / "content" / "stylegan2_ada"
    assert colab_source(drive_code, dest, PLACEHOLDER_URL) == dest
    assert (dest / "pyproject.toml").is_file() and (dest / "stylegan2_ada" / "__init__.py").is_file()


def test_colab_source_reuses_an_earlier_copy(colab_source, tmp_path: Path) -> None:
    dest = make_project(tmp_path / "content" / "stylegan2_ada")
    (dest / "stylegan2_ada" / "local_edit.py").write_text("")
    assert colab_source(tmp_path / "MyDrive" / "stylegan2_ada_code", dest, PLACEHOLDER_URL) == dest
    assert (dest / "stylegan2_ada" / "local_edit.py").is_file()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_colab_source_clones_repo_url(colab_source, tmp_path: Path) -> None:
    origin = make_project(tmp_path / "origin")
    shutil.rmtree(origin / ".git")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(origin)], check=True)
    subprocess.run([*git, "-C", str(origin), "add", "stylegan2_ada", "pyproject.toml"], check=True)
    subprocess.run([*git, "-C", str(origin), "commit", "-q", "-m", "init"], check=True)
    dest = tmp_path / "content" / "stylegan2_ada"
    assert colab_source(tmp_path / "MyDrive" / "stylegan2_ada_code", dest, origin.as_uri()) == dest
    assert (dest / "pyproject.toml").is_file() and (dest / ".git").is_dir()


def test_colab_source_placeholder_url_says_what_to_do(colab_source, tmp_path: Path) -> None:
    drive_code = tmp_path / "MyDrive" / "stylegan2_ada_code"
    dest = tmp_path / "content" / "stylegan2_ada"
    with pytest.raises(RuntimeError) as error:
        colab_source(drive_code, dest, PLACEHOLDER_URL)
    message = str(error.value)
    assert "REPO_URL" in message and "STYLEGAN2_ADA_REPO_URL" in message and str(drive_code) in message
    assert not dest.exists()


FAKE_COLAB = """
import sys, types
drive = types.ModuleType("google.colab.drive")
drive.mount = lambda path: print(f"mounted {path}", flush=True)
colab = types.ModuleType("google.colab")
colab.drive = drive
google = types.ModuleType("google")
google.colab = colab
sys.modules.update({"google": google, "google.colab": colab, "google.colab.drive": drive})
"""


def run_setup_cell(tmp_path: Path, prelude: str) -> subprocess.CompletedProcess:
    """The whole setup cell in a fresh interpreter, run outside any checkout, with stylegan2_ada not importable."""
    script = tmp_path / "run_setup.py"
    block = 'import sys\nsys.modules["stylegan2_ada"] = None  # import raises ImportError, as when not installed\n'
    script.write_text(prelude + block + SETUP + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("STYLEGAN2_ADA_REPO_URL", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, str(script)], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.skipif(Path("/content").exists(), reason="a Colab-like /content exists here: the cell would use it")
def test_setup_cell_in_colab_without_a_source_raises_the_clear_error(tmp_path: Path) -> None:
    result = run_setup_cell(tmp_path, FAKE_COLAB)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Colab found no copy of stylegan2_ada"), result.stderr
    assert "STYLEGAN2_ADA_REPO_URL" in last and "/content/drive/MyDrive/stylegan2_ada_code.zip" in last
    assert "git archive --format=zip" in last and "File upload" in last  # how to upload it, step by step
    assert result.stdout.splitlines() == ["mounted /content/drive"]  # Drive is mounted before looking for the code


def test_setup_cell_outside_colab_installs_nothing(tmp_path: Path) -> None:
    result = run_setup_cell(tmp_path, "")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: stylegan2_ada is not installed: run `pip install -e .`"), result.stderr
    assert result.stdout == ""
