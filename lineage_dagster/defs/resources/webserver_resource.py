import json
import os
import urllib.request

import dagster as dg
from pydantic import Field

from lineage_dagster.settings.environment import ENV_WEBSERVER_URL

DEFAULT_LOCATION_NAME = "lineage_dagster"
"""The code location's name (pyproject ``[tool.dagster]``, workspace.yaml), when the run does
not say (``execute_in_process``)."""

RELOAD_MUTATION = """
mutation Reload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry {
      locationOrLoadError { __typename ... on PythonError { message } }
    }
    ... on PythonError { message }
    ... on ReloadNotSupported { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
  }
}
"""


class DagsterWebserverResource(dg.ConfigurableResource):
    """Asks the Dagster webserver to reload this code location, so the table assets it builds
    from the lineage graph show what a run just loaded.

    Optional, like the Pushgateway: with no URL configured nothing is asked, and a reload that
    fails is a warning, never a failed step. ``lineage-dagster dev`` sets the URL.

    Example, in an op: ``webserver.reload_code_location(context)`` with
    ``resources={"webserver": DagsterWebserverResource()}``; the URL is read from
    ``LINEAGE_WEBSERVER_URL`` when the step runs.
    """

    url: str | None = Field(
        default=None,
        description="Webserver URL, e.g. http://127.0.0.1:3000; overrides url_env_var.",
    )
    url_env_var: str = Field(
        default=ENV_WEBSERVER_URL,
        description="Environment variable holding the webserver URL, read when a step runs; "
        "unset or empty means the code location is not reloaded after runs.",
    )
    timeout_seconds: float = Field(
        default=60.0,
        description="How long to wait for the reload (the webserver answers once the code "
        "location has loaded again).",
    )

    def reload_code_location(self, context: dg.OpExecutionContext) -> bool:
        """Reload the code location of the running job through the webserver's GraphQL API.

        Returns:
            Whether the webserver reloaded it; every failure is logged as a warning.
        """
        url = self.url or os.environ.get(self.url_env_var, "").strip()
        if not url:
            context.log.info(
                f"{self.url_env_var} is not set: the table assets show this run's changes at "
                "the next reload of the code location."
            )
            return False
        origin = context.dagster_run.remote_job_origin
        name = origin.location_name if origin else DEFAULT_LOCATION_NAME
        request = urllib.request.Request(
            f"{url.rstrip('/')}/graphql",
            data=json.dumps({"query": RELOAD_MUTATION, "variables": {"name": name}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                result = json.loads(response.read())["data"]["reloadRepositoryLocation"]
        except Exception as exc:
            # Whatever breaks (refused, timeout, unexpected answer), the run has succeeded.
            context.log.warning(
                f"Could not ask the webserver at {url} to reload code location {name!r} "
                f"({type(exc).__name__}: {exc}); reload it from the UI to see the new tables."
            )
            return False
        loaded = result.get("locationOrLoadError") or {}
        if result["__typename"] != "WorkspaceLocationEntry" or "message" in loaded:
            message = result.get("message") or loaded.get("message") or result["__typename"]
            context.log.warning(f"Reloading code location {name!r} failed: {message}")
            return False
        context.log.info(f"Reloaded code location {name!r}: the table assets are up to date.")
        return True
