"""The committed canvas bundle is what its source builds to (`npm ci && npm run build`).

The app needs no Node: components/canvas/dist is committed. This test rebuilds the frontend from
components/canvas/frontend in a temporary copy and compares every file, byte for byte. .ci/run also
rebuilds in place and fails on any difference.
"""

import os
import shutil
import subprocess

import pytest

from components.canvas import DIST, HERE

FRONTEND = HERE / "frontend"
SOURCES = ("package.json", "package-lock.json", "vite.config.ts", "tsconfig.json", "src")


@pytest.mark.skipif(shutil.which("npm") is None, reason="Node and npm are not installed (the app itself needs neither)")
def test_the_committed_bundle_is_what_the_source_builds(tmp_path):
    work = tmp_path / "frontend"
    work.mkdir()
    for name in SOURCES:
        src = FRONTEND / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    env = {**os.environ, "npm_config_fund": "false", "npm_config_audit": "false", "npm_config_update_notifier": "false"}
    subprocess.run(["npm", "ci", "--no-progress"], cwd=work, check=True, capture_output=True, env=env, timeout=600)
    out = tmp_path / "dist"
    subprocess.run(["npx", "vite", "build", "--outDir", str(out), "--emptyOutDir"], cwd=work, check=True,
                   capture_output=True, env=env, timeout=600)
    built = {p.name: p.read_bytes() for p in out.iterdir()}
    committed = {p.name: p.read_bytes() for p in DIST.iterdir()}
    assert sorted(built) == sorted(committed), "rebuild components/canvas/dist: npm ci && npm run build"
    for name, data in built.items():
        assert data == committed[name], f"{name} differs from its source: rebuild and commit it"
    assert {p.suffix for p in DIST.iterdir()} == {".js", ".css"}  # one bundle, one stylesheet
