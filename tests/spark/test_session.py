"""The SparkSession snoopipe builds: in local mode the driver stays on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from snoopipe.settings import SparkSettings
from snoopipe.transform.spark_engine import is_local_master, local_driver_conf


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port` (from /proc/net/tcp*)."""
    found = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.add(address[:width])
    return found


def test_local_session_driver_binds_and_advertises_loopback(spark):
    assert spark.sparkContext.master.startswith("local")
    assert spark.conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert spark.conf.get("spark.driver.host") == "127.0.0.1"
    port = int(spark.sparkContext.getConf().get("spark.driver.port"))
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to check the listening address")
    # IPv4 127.0.0.1 (little endian hex) or IPv6 ::ffff:127.0.0.1; never 0.0.0.0 or a LAN IP.
    assert _listening_addresses(port) <= {"0100007F", "0000000000000000FFFF00000100007F"}
    assert _listening_addresses(port)


def test_loopback_only_for_local_masters_and_never_over_the_users_conf():
    for master in ("local", "local[*]", "local[4]", "local[2,3]"):
        assert is_local_master(master)
        assert local_driver_conf(SparkSettings(master=master)) == {
            "spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
    for master in ("spark://head:7077", "yarn", "k8s://https://api:6443", "localhost"):
        assert not is_local_master(master)
        assert local_driver_conf(SparkSettings(master=master)) == {}
    mine = SparkSettings(master="local[*]", conf={"spark.driver.host": "10.0.0.5"})
    assert local_driver_conf(mine) == {"spark.driver.bindAddress": "127.0.0.1"}


def test_a_standalone_master_on_loopback_keeps_the_driver_on_loopback():
    from snoopipe.transform.spark_engine import is_loopback_master

    for master in ("spark://127.0.0.1:7077", "spark://localhost:7077",
                   "spark://127.0.0.1:7077,127.0.0.1:7078"):
        assert is_loopback_master(master)
        assert local_driver_conf(SparkSettings(master=master)) == {
            "spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
    for master in ("spark://head:7077", "spark://127.0.0.1:7077,head:7077", "yarn", "local[2]"):
        assert not is_loopback_master(master)


def test_driver_memory_is_small_on_a_cluster_and_half_the_machine_locally():
    from snoopipe.transform.spark_engine import (
        CLUSTER_DRIVER_MEMORY,
        default_driver_memory,
        driver_memory,
    )

    assert driver_memory(SparkSettings(master="spark://head:7077")) == CLUSTER_DRIVER_MEMORY
    assert driver_memory(SparkSettings(master="yarn", driver_memory="3g")) == "3g"
    assert driver_memory(SparkSettings(master="local[*]")) == default_driver_memory()
