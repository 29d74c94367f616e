"""Descriptors numbered 1024 and above: what a long test session (or a lab with many children) holds.

CI's full run had ~1,150 descriptors open in the test process by its last third, and every live-view
test then failed: the isolated inspector waited on its child's pipe with ``select.select``, which
refuses a descriptor numbered 1024 or more ("filedescriptor out of range in select()"). The waits
use ``poll`` now; these tests open enough descriptors first that the ones under test land above 1024.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator

import pytest

from deliverytui.demo.stop_flag import StopFlag
from deliverytui.kafka.isolated import IsolatedGroupInspector
from tests.kafka_helpers import commit, create_topic, produce


@contextlib.contextmanager
def descriptors_above_1024() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1300:
        if hard != resource.RLIM_INFINITY and hard < 1300:  # no process here can hold such a descriptor
            pytest.skip(f"the hard open-files limit ({hard}) keeps every descriptor below 1024")
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096 if hard == resource.RLIM_INFINITY else min(hard, 4096), hard))
    held = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)


def test_a_stop_flag_waits_on_a_descriptor_above_1024() -> None:
    with descriptors_above_1024():
        flag = StopFlag()
        try:
            assert flag.wait(0.01) is False
            flag.set()
            assert flag.wait(5) is True
        finally:
            flag.close()


def test_the_isolated_inspector_reads_its_child_on_a_descriptor_above_1024(bootstrap: str, unique: str) -> None:
    topic, group = f"fds-{unique}", f"fds-{unique}"
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, {0: 3})
    commit(bootstrap, group, {(topic, 0): 1})
    with descriptors_above_1024():
        isolated = IsolatedGroupInspector(bootstrap, request_timeout=10)
        try:
            snap = isolated.snapshot(group)
        finally:
            isolated.close()
    assert [(row.committed_offset, row.log_end_offset) for row in snap.partitions] == [(1, 3)]
