"""Shared fixtures: the real data root beside the checkout, W&B offline in a temp dir."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning, so that small torch ops stay fast
# when other processes (a DDP test's workers, a shared CI machine) compete for the two cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IVIF_BENCH_TEST_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


class FileServer:
    """Serves folders over HTTP on 127.0.0.1, as raw.githubusercontent.com serves a repository (the download
    tests fetch from it; nothing leaves the machine): ``url = file_server(folder)``; ``requested`` lists the
    paths asked of the servers so far, in order."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self._running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def __call__(self, folder: Path) -> str:
        requested = self.requested

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                requested.append(self.path)
                super().do_GET()

            def log_message(self, *args):  # quiet
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        self._running.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    def close(self) -> None:
        for httpd, thread in self._running:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


@pytest.fixture()
def file_server(monkeypatch):
    """A :class:`FileServer`, with proxies bypassed for 127.0.0.1; its servers stop after the test."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers = FileServer()
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """``../shared/data``: the real datasets, read in place (never copied into the repo)."""
    if not (SHARED_DATA / "IVIF-DIDFuse").is_dir():
        pytest.fail(f"the shared data root {SHARED_DATA} is missing; tests read real images from it")
    return SHARED_DATA


@pytest.fixture()
def tno_fused_copy(data_root, tmp_path):
    """``copy(ids) -> folder``: tmp_path/fused holding F{k}.png, the DIDFuse authors' fusion of TNO pair k."""
    def copy(ids) -> Path:
        folder = tmp_path / "fused"
        folder.mkdir()
        for k in ids:
            shutil.copy(data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI" / f"F{k}.png", folder / f"F{k}.png")
        return folder
    return copy


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a whole test module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    on a small shared CPU, two OpenMP threads wait on each other and small ops run up to ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _wandb_offline(tmp_path_factory, monkeypatch):
    """Every test runs W&B offline with its files in a temporary folder."""
    wandb_dir = tmp_path_factory.getbasetemp() / "wandb"
    wandb_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_SILENT", "true")
