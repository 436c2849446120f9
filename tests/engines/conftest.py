"""Real warehouse engines for the SQL exports: a throwaway PostgreSQL cluster and Spark local.

One PostgreSQL cluster and one Spark session serve the whole test session (starting
either takes seconds). Each is skipped when it is not installed, unless
``LEADCAL_ENGINES=required`` (what ``.ci/run`` sets): then a missing engine fails the run.

PostgreSQL: Debian's server binaries (``/usr/lib/postgresql/<version>/bin``), ``initdb``
into a temp dir and ``pg_ctl start`` on a free loopback port, stopped and deleted at
the end of the session. PostgreSQL refuses to run as root, so as root (CI) the cluster
runs as the ``postgres`` user the Debian package creates.

Spark: ``pyspark`` (the ``engines`` extra) in local mode on Debian's OpenJDK 17, UI off,
session time zone UTC, a temp warehouse directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scoring.data.demo import generate

from .cases import MESSY_EVENTS, MESSY_LEADS, messy_db
from .loading import EngineData, load_postgres, parquet_dump

REQUIRED = os.environ.get("LEADCAL_ENGINES") == "required"
DEMO_LEADS = 3_000


def _unavailable(what: str, how: str) -> None:
    """Skip locally; fail when the engines are required (CI)."""
    if REQUIRED:
        pytest.fail(f"{what} is not available and LEADCAL_ENGINES=required: {how}")
    pytest.skip(f"{what} not available ({how}); CI installs it and requires these tests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian keeps it off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).resolve().parent if on_path else None


class PostgresCluster:
    """A running throwaway cluster: connect with ``connect(schema)``."""

    def __init__(self, bindir: Path, root: Path, port: int, as_user: list[str]):
        self.bindir, self.root, self.port, self._as = bindir, root, port, as_user
        self.data = root / "data"

    def _run(self, *args: str) -> None:
        cmd = self._as + [str(self.bindir / args[0]), *args[1:]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = (self.root / "server.log")
            raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr.strip() or done.stdout.strip()}"
                               + (f"\n{log.read_text()[-2000:]}" if log.exists() else ""))

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "leadcal", "--auth=trust", "--encoding=UTF8",
                  "--no-locale", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c TimeZone=UTC")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def connect(self, schema: str | None = None):
        """A psycopg connection (autocommit), with ``schema`` first on the search path."""
        import psycopg

        con = psycopg.connect(host="127.0.0.1", port=self.port, user="leadcal", dbname="postgres", autocommit=True)
        if schema:
            con.execute(f'SET search_path TO "{schema}"')
        return con


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster on a free loopback port for the session; stopped and deleted after."""
    bindir = postgres_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        _unavailable("PostgreSQL server", "apt-get install postgresql")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg", "pip install -e '.[engines]'")
    root = Path(tempfile.mkdtemp(prefix="leadcal-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        if shutil.which("runuser") is None:
            _unavailable("runuser (to run PostgreSQL as the postgres user)", "apt-get install util-linux")
        shutil.chown(root, user="postgres", group="postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    cluster = PostgresCluster(bindir, root, _free_port(), as_user)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            if (cluster.data / "postmaster.pid").exists():
                cluster.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local Spark session (2 threads) for the whole test session."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _unavailable("pyspark", "pip install -e '.[engines]'")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _unavailable("Java (for Spark)", "apt-get install openjdk-17-jre-headless")
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only, whatever the host name resolves to
    session = (
        SparkSession.builder.master("local[2]").appName("leadcal-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def engine_demo(tmp_path_factory) -> EngineData:
    """A small demo database (DuckDB) and its tables as Parquet files, for every engine."""
    base = tmp_path_factory.mktemp("engine-demo")
    db = base / "demo.duckdb"
    generate(db, leads=DEMO_LEADS, seed=11)
    return EngineData("demo", db, parquet_dump(db, base / "parquet"))


@pytest.fixture(scope="session")
def engine_messy(tmp_path_factory) -> EngineData:
    """The messy leads of tests/test_export_sql.py: spaces in names, duplicates, NULLs, quotes."""
    base = tmp_path_factory.mktemp("engine-messy")
    db = messy_db(base / "messy.duckdb", MESSY_LEADS, MESSY_EVENTS)
    return EngineData("messy", db, parquet_dump(db, base / "parquet"))


@pytest.fixture(scope="session")
def pg_data(postgres, engine_demo, engine_messy) -> dict[str, str]:
    """Both datasets loaded into the cluster, one schema each: name -> schema."""
    with postgres.connect() as con:
        for data in (engine_demo, engine_messy):
            load_postgres(con, data)
    return {d.name: d.name for d in (engine_demo, engine_messy)}
