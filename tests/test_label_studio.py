"""A real Label Studio round trip: a server started on 127.0.0.1, driven through its REST API as a
new user would (project with plabel's config, the Local Files storage, import, annotate, export),
then `plabel review import` and `plabel select`.

Label Studio pins its own Django stack, so it lives in a virtual environment of its own: .ci/run
installs it there and names its `label-studio` in PLABEL_LABEL_STUDIO. Skipped without it."""
from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

LABEL_STUDIO = os.environ.get("PLABEL_LABEL_STUDIO", "")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (LABEL_STUDIO and os.access(LABEL_STUDIO, os.X_OK)),
    reason="Label Studio is not installed: .ci/run installs it and sets PLABEL_LABEL_STUDIO")]
EMAIL, PASSWORD = "reviewer@example.com", "plabel-test-only"
POOL = "SELECT image_id FROM predictions WHERE round = 0 AND split = 'unlabeled' ORDER BY margin, image_id LIMIT 5"


class Client:
    """Label Studio's API with a session, as its web page uses it (1.23 turns legacy tokens off)."""

    def __init__(self, url: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.opener.open(url + "/user/login/").read()
        form = {"csrfmiddlewaretoken": self._csrf(), "email": EMAIL, "password": PASSWORD}
        self.opener.open(urllib.request.Request(url + "/user/login/", urllib.parse.urlencode(form).encode(),
                                                headers={"Referer": url + "/user/login/"})).read()

    def _csrf(self) -> str:
        for h in self.opener.handlers:
            if isinstance(h, urllib.request.HTTPCookieProcessor):
                return next(c.value for c in h.cookiejar if c.name == "csrftoken")
        raise AssertionError("no CSRF cookie")

    def api(self, method: str, path: str, body=None):
        req = urllib.request.Request(self.url + path, None if body is None else json.dumps(body).encode(),
                                     method=method, headers={"Content-Type": "application/json",
                                                             "X-CSRFToken": self._csrf(), "Referer": self.url + "/"})
        with self.opener.open(req, timeout=60) as r:
            text = r.read()
        return json.loads(text) if text else None

    def status(self, path: str) -> int:
        try:
            with self.opener.open(self.url + path, timeout=60) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory):
    """A fresh Label Studio (its own data folder) serving local files under `root`."""
    root = tmp_path_factory.mktemp("ls-root")
    port = _free_port()
    env = {**os.environ, "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
           "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root), "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true"}
    log = open(tmp_path_factory.mktemp("ls-log") / "ls.log", "w")  # noqa: SIM115 (closed at teardown)
    proc = subprocess.Popen([LABEL_STUDIO, "start", "--no-browser", "--port", str(port), "--internal-host", "127.0.0.1",
                             "--host", f"http://127.0.0.1:{port}", "--data-dir", str(root / ".ls-data"),
                             "--username", EMAIL, "--password", PASSWORD], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the first start migrates its database: a minute or two
        while True:
            assert proc.poll() is None, "Label Studio exited; see its log"
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "Label Studio did not answer /health in 10 minutes"
            time.sleep(2)
        yield root, Client(url)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _workspace(root: Path, mnist_folders):
    """Images under Label Studio's document root; round 0's predictions from a teacher elsewhere."""
    import shutil

    from plabel.external import ImportOptions, import_predictions
    from plabel.ingest import IngestOptions, ingest
    from plabel.workspace import init_workspace

    data = root / "data"
    for split in ("train", "unlabeled", "test"):
        shutil.copytree(getattr(mnist_folders, split), data / split)
    ws = init_workspace(root / "ws")
    ingest(ws, IngestOptions(source=data / "train", split="train", workers=1))
    ingest(ws, IngestOptions(source=data / "test", split="test", workers=1))
    ingest(ws, IngestOptions(source=data / "unlabeled", split="unlabeled", workers=1))
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.5), len(ids))
    pd.DataFrame({"image_id": ids, "probs": list(probs)}).to_parquet(root / "teacher.parquet")
    import_predictions(ws, ImportOptions(file=root / "teacher.parquet", round=0, model_name="elsewhere"))
    return ws


def test_a_round_trip_through_a_real_label_studio(label_studio, mnist_folders, cli):
    root, ls = label_studio
    ws = _workspace(root, mnist_folders)
    out = root / "review" / "tasks.json"
    r = cli("review", "export", out, "--round", "0", "--query", POOL, "--document-root", root, "-w", ws.root)
    assert r.exit_code == 0, r.output
    config = (root / "review" / "tasks.label-config.xml").read_text()
    project = ls.api("POST", "/api/projects", {"title": "plabel review", "label_config": config})
    storage = json.loads((root / "review" / "tasks.local-storage.json").read_text())
    assert storage["path"] in r.stderr
    ls.api("POST", "/api/storages/localfiles", {**storage, "project": project["id"]})
    tasks = json.loads(out.read_text())
    assert ls.api("POST", f"/api/projects/{project['id']}/import", tasks)["task_count"] == 5
    listed = ls.api("GET", f"/api/tasks?project={project['id']}&fields=all")["tasks"]
    assert ls.status(listed[0]["data"]["image"]) == 200  # the image is served: the storage is in place
    relabel = {}  # the first two tasks corrected to class 7, the others accepted as proposed
    for k, task in enumerate(sorted(listed, key=lambda t: t["id"])):
        (prediction,) = task["predictions"]
        proposed = prediction["result"][0]["value"]["choices"][0]
        label = "7" if k < 2 else proposed
        relabel[task["data"]["image_id"]] = (label, proposed)
        ls.api("POST", f"/api/tasks/{task['id']}/annotations", {
            "result": [{"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}],
            "was_cancelled": False, "parent_prediction": prediction["id"]})
    export = ls.api("GET", f"/api/projects/{project['id']}/export?exportType=JSON")
    assert all(isinstance(p, int) for t in export for p in t["predictions"])  # 1.x: ids, not objects
    exported = root / "review" / "export.json"
    exported.write_text(json.dumps(export))
    r = cli("review", "import", exported, "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    changed = sum(label != proposed for label, proposed in relabel.values())
    assert json.loads(r.stdout)["labeled"] == 5 and json.loads(r.stdout)["changed"] == changed
    rows = {i: (label, predicted, version, who) for i, label, predicted, version, who in ws.rows(
        "SELECT image_id, label, predicted, model_version, annotator FROM reviews")}
    assert {i: (lab, pred) for i, (lab, pred, _, _) in rows.items()} == relabel
    assert all(v.endswith("(elsewhere)") and w for _, _, v, w in rows.values())
    assert cli("select", "--round", "0", "--threshold", "0.3", "-w", ws.root).exit_code == 0
    manifest = {m["image_id"]: m for m in pq.read_table(ws.manifest_path(0)).to_pylist()}
    names = ws.class_names()
    for image_id, (label, _) in relabel.items():
        assert manifest[image_id]["origin"] == "labeled" and names[manifest[image_id]["target"]] == label
