"""The JVM consumers' probe (``deliverytui.probe.ProbeInterceptor``): its jar, built from the package's sources.

A JVM consumer publishes its positions with two changes: this jar on its classpath and
``interceptor.classes=deliverytui.probe.ProbeInterceptor``. The source (``deliverytui/probe/java``)
ships with the package; Maven builds it against the cached Kafka jars' version into the per-user
cache, as the admin helper (:mod:`deliverytui.broker.java_build`). ``kafka-clients`` is a
``provided`` dependency: the consumer's own classpath supplies it, so the jar holds one class.
``deliverytui probe-jar`` prints the jar's path; ``deliverytui broker fetch`` builds it too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from deliverytui.broker.distribution import KafkaDistribution, KafkaSetupError, resolve_distribution
from deliverytui.broker.java_build import JavaBuild, build_jar

#: The interceptor's class name, as a consumer's ``interceptor.classes`` names it.
INTERCEPTOR_CLASS = "deliverytui.probe.ProbeInterceptor"

PROBE_JAR_BUILD = JavaBuild(
    source_dir="probe/java", cache_prefix="probe-interceptor", jar_name="deliverytui-probe.jar",
    what="deliverytui's probe for JVM consumers",
)


def build_probe_jar(dist: KafkaDistribution | None = None, *, progress: Callable[[str], None] | None = None) -> Path:
    """The probe jar's path, built with Maven first if these sources never were."""
    dist = dist or resolve_distribution(progress=progress)
    jar, _ = build_jar(PROBE_JAR_BUILD, dist.kafka_version, progress=progress)
    return jar


def probe_jar_built() -> bool:
    """Whether the jar for these sources is built already (``scripts/setup`` asks, to stay silent when it is)."""
    try:
        dist = resolve_distribution(fetch=False)
    except KafkaSetupError:
        return False
    return PROBE_JAR_BUILD.jar(dist.kafka_version).exists()
