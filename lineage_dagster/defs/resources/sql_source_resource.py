from pathlib import Path

import dagster as dg
from pydantic import Field

from lineage_dagster.defs.settings import READ_TIMEOUT_SECONDS
from lineage_dagster.parsing import DEFAULT_MAX_BYTES, SqlFileError
from lineage_dagster.sources.files import SourceFile, scan_files


class SqlSourceResource(dg.ConfigurableResource):
    """The watched folder of SQL files; its top-level folders are the partitions.

    Example: ``SqlSourceResource(root=dg.EnvVar("LINEAGE_SQL_ROOT"))``.
    """

    root: str = Field(description="The folder whose .sql files are ingested (LINEAGE_SQL_ROOT).")
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_BYTES, description="Larger files are refused with a clear error."
    )
    read_timeout_seconds: float = Field(
        default=READ_TIMEOUT_SECONDS,
        gt=0,
        description="A file (or folder listing) that does not answer within this time, e.g. on "
        "a hung network mount, is reported as unreadable for this run instead of blocking it "
        "(default: LINEAGE_READ_TIMEOUT_SECONDS, else 30).",
    )

    @property
    def root_path(self) -> Path:
        return Path(self.root).expanduser().resolve()

    def scan(self, partition: str | None = None) -> tuple[list[SourceFile], list[SqlFileError]]:
        """List and hash the SQL files of the root, or of one partition."""
        if not self.root_path.is_dir():
            raise dg.Failure(
                description=f"The SQL folder {self.root_path} does not exist or is not a folder",
                metadata={"root": self.root},
            )
        return scan_files(
            self.root_path,
            partition,
            max_bytes=self.max_file_bytes,
            timeout_seconds=self.read_timeout_seconds,
        )
