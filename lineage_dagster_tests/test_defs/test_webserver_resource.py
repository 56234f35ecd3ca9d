"""Reloading the code location after a run: the resource posts the webserver's
``reloadRepositoryLocation`` mutation for this location (to a stand-in HTTP server that answers
as the webserver does), and every failure (nothing listening, an error answer, no URL) is a
warning or a note in the step's log, never a failed run."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from lineage_dagster.defs.resources import DagsterWebserverResource
from lineage_dagster.devstack.local_neo4j import find_free_port


class _Webserver:
    def __init__(self, answer: dict) -> None:
        self.answer = answer
        self.requests: list[dict] = []


@pytest.fixture
def webserver(request: pytest.FixtureRequest) -> Iterator[tuple[str, _Webserver]]:
    state = _Webserver(request.param)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"path": self.path, **json.loads(body)})
            data = json.dumps({"data": {"reloadRepositoryLocation": state.answer}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", state
    server.shutdown()
    server.server_close()


def _run(resource: DagsterWebserverResource) -> tuple[bool, list[str]]:
    @dg.op
    def reload(context: dg.OpExecutionContext, webserver: DagsterWebserverResource) -> bool:
        return webserver.reload_code_location(context)

    @dg.job
    def reload_job() -> None:
        reload()

    instance = dg.DagsterInstance.ephemeral()
    result = reload_job.execute_in_process(resources={"webserver": resource}, instance=instance)
    assert result.success
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    return result.output_for_node("reload"), messages


OK = {"__typename": "WorkspaceLocationEntry", "locationOrLoadError": {"__typename": "x"}}
LOAD_ERROR = {
    "__typename": "WorkspaceLocationEntry",
    "locationOrLoadError": {"__typename": "PythonError", "message": "boom"},
}


@pytest.mark.parametrize("webserver", [OK], indirect=True)
def test_reload_posts_the_mutation(webserver: tuple[str, _Webserver]) -> None:
    url, state = webserver
    reloaded, _ = _run(DagsterWebserverResource(url=url))
    assert reloaded
    [request] = state.requests
    assert request["path"] == "/graphql"
    assert "reloadRepositoryLocation" in request["query"]
    assert request["variables"] == {"name": "lineage_dagster"}


@pytest.mark.parametrize("webserver", [LOAD_ERROR], indirect=True)
def test_a_failed_reload_is_a_warning(webserver: tuple[str, _Webserver]) -> None:
    url, _ = webserver
    reloaded, messages = _run(DagsterWebserverResource(url=url))
    assert not reloaded
    assert any("failed: boom" in message for message in messages)


def test_nothing_listening_is_a_warning() -> None:
    url = f"http://127.0.0.1:{find_free_port()}"
    reloaded, messages = _run(DagsterWebserverResource(url=url, timeout_seconds=3))
    assert not reloaded
    assert any("Could not ask the webserver" in message for message in messages)


def test_no_url_asks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINEAGE_WEBSERVER_URL", raising=False)
    reloaded, messages = _run(DagsterWebserverResource())
    assert not reloaded
    assert any("LINEAGE_WEBSERVER_URL is not set" in message for message in messages)
