package deliverytui.probe;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a JVM consumer's positions to {@code __deliverytui_probe}, as deliverytui's Python probe does for
 * librdkafka consumers, so the live view's Position column is filled for JVM consumers too.
 *
 * <p>Two changes to a consumer: this jar on its classpath ({@code deliverytui probe-jar} prints its path) and
 * {@code interceptor.classes=deliverytui.probe.ProbeInterceptor}. Both group protocols ({@code classic} and
 * {@code consumer}) call interceptors the same way.
 *
 * <p>Why it can never hurt the consumer it runs in: {@link #onConsume} and {@link #onCommit} only update a small
 * map under a lock (no I/O, no allocation beyond the map's entries) and catch every {@link Throwable}; records
 * are built and sent from one daemon thread, once per interval, by a producer of its own (created on that
 * thread, from the consumer's connection and security settings only) whose buffer is small and bounded; a full
 * buffer or a failed send drops one report. When the probe topic cannot be created or written, one log line
 * says so and the probe goes quiet. Nothing it logs contains a configuration value.
 *
 * <p>Record format: deliverytui/probe/record.py, version 1, {@code source} {@code "java-interceptor"}.
 * {@code position} is the consumer's position after the records {@code poll()} returned
 * ({@link ConsumerRecords#nextOffsets()}, which also steps over transaction markers and compacted gaps; the
 * last returned offset + 1 where the client does not provide it); {@code committed} is the last offset this
 * consumer committed, from {@link #onCommit}. Both are read under one lock when a record is built, so a record
 * compares two values of the same instant. No member id: interceptors cannot see the group metadata.
 */
public final class ProbeInterceptor<K, V> implements ConsumerInterceptor<K, V> {
    /** The probe topic (default {@code __deliverytui_probe}); a consumer config, as deliverytui's --probe-topic. */
    public static final String TOPIC_CONFIG = "deliverytui.probe.topic";
    /** Milliseconds between reports (default 1000, the Python probe's statistics interval). */
    public static final String INTERVAL_CONFIG = "deliverytui.probe.interval.ms";

    static final String DEFAULT_TOPIC = "__deliverytui_probe";
    static final long DEFAULT_INTERVAL_MS = 1000;
    static final int RECORD_VERSION = 1;
    static final String SOURCE = "java-interceptor";
    /** A partition not seen in a poll or a commit for this long, while others were, was moved away by a rebalance. */
    static final long FORGET_AFTER_NS = TimeUnit.SECONDS.toNanos(60);
    static final long TOPIC_RETRY_MS = 30_000;

    /** Connection and security settings copied into the probe's producer; nothing consumer-specific. */
    static final Set<String> CONNECTION_KEYS = Set.of(
            "bootstrap.servers", "security.protocol", "client.dns.lookup", "security.providers",
            "socket.connection.setup.timeout.ms", "socket.connection.setup.timeout.max.ms",
            "reconnect.backoff.ms", "reconnect.backoff.max.ms", "connections.max.idle.ms",
            "metadata.recovery.strategy", "metadata.recovery.rebootstrap.trigger.ms", "enable.metrics.push");
    static final List<String> CONNECTION_PREFIXES = List.of("sasl.", "ssl.");

    private static final Logger LOG = LoggerFactory.getLogger(ProbeInterceptor.class);
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    /** Per partition: {position, committed, last touched (System.nanoTime)}; -1 = unknown. Guarded by itself. */
    private final Map<TopicPartition, long[]> offsets = new HashMap<>();
    private final int instance = INSTANCES.incrementAndGet();
    private volatile boolean nextOffsetsMissing;
    private volatile boolean silenced;

    private String group;
    private String clientId;
    private String topic = DEFAULT_TOPIC;
    private long intervalMs = DEFAULT_INTERVAL_MS;
    private Map<String, Object> connection;
    private ScheduledExecutorService publisher;
    // Used from the publisher thread only (and from close(), after that thread stopped).
    private KafkaProducer<byte[], byte[]> producer;
    private String reporter;
    private boolean topicReady;
    private long topicCheckAfterMs;

    @Override
    public void configure(Map<String, ?> configs) {
        try {
            Object groupId = configs.get("group.id");
            Object client = configs.get("client.id");
            if (groupId == null || groupId.toString().isEmpty()) {
                LOG.warn("deliverytui probe: the consumer has no group.id; no positions are published");
                silenced = true;
                return;
            }
            group = groupId.toString();
            clientId = client == null ? "" : client.toString();
            if (configs.get(TOPIC_CONFIG) != null) {
                topic = configs.get(TOPIC_CONFIG).toString();
            }
            if (configs.get(INTERVAL_CONFIG) != null) {
                intervalMs = Math.max(100, Long.parseLong(configs.get(INTERVAL_CONFIG).toString().trim()));
            }
            connection = new HashMap<>();
            for (Map.Entry<String, ?> entry : configs.entrySet()) {
                String key = entry.getKey();
                if (entry.getValue() != null
                        && (CONNECTION_KEYS.contains(key) || CONNECTION_PREFIXES.stream().anyMatch(key::startsWith))) {
                    connection.put(key, entry.getValue());
                }
            }
            publisher = Executors.newSingleThreadScheduledExecutor(runnable -> {
                Thread thread = new Thread(runnable, "deliverytui-probe-" + clientId);
                thread.setDaemon(true);
                return thread;
            });
            publisher.scheduleWithFixedDelay(this::publishSafely, intervalMs, intervalMs, TimeUnit.MILLISECONDS);
        } catch (Throwable error) {
            silence("cannot start: " + error.getClass().getSimpleName());
        }
    }

    @Override
    public ConsumerRecords<K, V> onConsume(ConsumerRecords<K, V> records) {
        try {
            if (silenced || records.isEmpty() && nextOffsetsMissing) {
                return records;
            }
            long now = System.nanoTime();
            Map<TopicPartition, OffsetAndMetadata> next = nextOffsetsMissing ? Map.of() : nextOffsets(records);
            synchronized (offsets) {
                for (Map.Entry<TopicPartition, OffsetAndMetadata> entry : next.entrySet()) {
                    update(entry.getKey(), 0, entry.getValue().offset(), now);
                }
                for (TopicPartition partition : records.partitions()) {
                    if (!next.containsKey(partition)) {
                        List<ConsumerRecord<K, V>> returned = records.records(partition);
                        update(partition, 0, returned.get(returned.size() - 1).offset() + 1, now);
                    }
                }
            }
        } catch (Throwable ignored) {
            // A probe must never break the consumer that hosts it.
        }
        return records;
    }

    @Override
    public void onCommit(Map<TopicPartition, OffsetAndMetadata> committed) {
        try {
            if (silenced) {
                return;
            }
            long now = System.nanoTime();
            synchronized (offsets) {
                for (Map.Entry<TopicPartition, OffsetAndMetadata> entry : committed.entrySet()) {
                    if (entry.getValue() != null) {
                        update(entry.getKey(), 1, entry.getValue().offset(), now);
                    }
                }
            }
        } catch (Throwable ignored) {
            // As onConsume.
        }
    }

    @Override
    public void close() {
        try {
            if (publisher != null) {
                publisher.shutdownNow();
                publisher.awaitTermination(2, TimeUnit.SECONDS);
            }
            if (producer != null) {
                if (topicReady && !silenced) {
                    producer.send(new ProducerRecord<>(topic, key(), null)); // retracts this reporter at once
                }
                producer.close(Duration.ofSeconds(2));
            }
        } catch (Throwable ignored) {
            // Closing the consumer goes on.
        }
    }

    private void update(TopicPartition partition, int field, long offset, long now) {
        long[] entry = offsets.computeIfAbsent(partition, p -> new long[] {-1, -1, now});
        entry[field] = offset;
        entry[2] = now;
    }

    private Map<TopicPartition, OffsetAndMetadata> nextOffsets(ConsumerRecords<K, V> records) {
        try {
            return records.nextOffsets();
        } catch (NoSuchMethodError olderClient) { // kafka-clients before 4.0: the last returned offset + 1
            nextOffsetsMissing = true;
            return Map.of();
        }
    }

    private void publishSafely() {
        try {
            publish();
        } catch (Throwable error) {
            if (error instanceof AuthorizationException || error.getCause() instanceof AuthorizationException) {
                silence("not authorized to write " + topic + " (it needs Write and Describe on it)");
            }
            // Anything else: this report is lost; the next interval tries again.
        }
    }

    private void publish() throws Exception {
        if (silenced || Thread.currentThread().isInterrupted()) {
            return;
        }
        if (producer == null) {
            reporter = hostName() + ":" + ProcessHandle.current().pid() + ":" + clientId + ":" + instance;
            Map<String, Object> settings = new HashMap<>(connection);
            settings.put("client.id", clientId + "-deliverytui-probe");
            settings.put("acks", "1");
            settings.put("enable.idempotence", "false");
            settings.put("linger.ms", "50");
            settings.put("buffer.memory", String.valueOf(256 * 1024));
            settings.put("max.block.ms", "2000");
            settings.put("request.timeout.ms", "10000");
            settings.put("delivery.timeout.ms", "20000");
            producer = new KafkaProducer<>(settings, new ByteArraySerializer(), new ByteArraySerializer());
        }
        if (!topicReady && !ensureTopic()) {
            return;
        }
        byte[] value = value(System.currentTimeMillis());
        producer.send(new ProducerRecord<>(topic, key(), value), (metadata, error) -> {
            if (error instanceof AuthorizationException) {
                silence("not authorized to write " + topic + " (it needs Write and Describe on it)");
            }
        });
    }

    /** Whether the probe topic exists; created compacted (as the Python probe creates it) when missing. */
    private boolean ensureTopic() {
        long now = System.currentTimeMillis();
        if (now < topicCheckAfterMs) {
            return false;
        }
        topicCheckAfterMs = now + TOPIC_RETRY_MS;
        Map<String, Object> settings = new HashMap<>(connection);
        settings.put("client.id", clientId + "-deliverytui-probe");
        try (Admin admin = Admin.create(settings)) {
            try {
                TopicDescription found = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
                topicReady = found != null && !found.partitions().isEmpty();
            } catch (Exception missing) {
                if (!(missing.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw missing;
                }
                NewTopic created = new NewTopic(topic, Optional.of(1), Optional.empty()).configs(Map.of(
                        "cleanup.policy", "compact,delete", "retention.ms", String.valueOf(60 * 60 * 1000),
                        "segment.ms", String.valueOf(10 * 60 * 1000), "min.cleanable.dirty.ratio", "0.1"));
                try {
                    admin.createTopics(List.of(created)).all().get(10, TimeUnit.SECONDS);
                } catch (Exception race) {
                    if (!(race.getCause() instanceof TopicExistsException)) {
                        throw race;
                    }
                }
                topicReady = true;
            }
            admin.close(Duration.ofSeconds(1));
        } catch (Throwable error) {
            Throwable cause = error.getCause() != null ? error.getCause() : error;
            if (cause instanceof AuthorizationException) {
                silence("cannot use " + topic + ": not authorized (it needs Describe and Write on it, Create to create it)");
            }
            return false; // unreachable or slow: tried again after TOPIC_RETRY_MS
        }
        return topicReady;
    }

    private void silence(String reason) {
        if (!silenced) {
            silenced = true;
            LOG.warn("deliverytui probe for group {}: {}; no positions are published", group, reason);
        }
    }

    private byte[] key() {
        return ("[" + quote(group) + "," + quote(reporter) + "]").getBytes(StandardCharsets.UTF_8);
    }

    /** One record's JSON value: every partition's position and committed offset, read under one lock. */
    byte[] value(long tsMs) {
        StringBuilder partitions = new StringBuilder();
        synchronized (offsets) {
            long newest = offsets.values().stream().mapToLong(entry -> entry[2]).max().orElse(0);
            offsets.values().removeIf(entry -> newest - entry[2] > FORGET_AFTER_NS);
            List<Map.Entry<TopicPartition, long[]>> sorted = new ArrayList<>(offsets.entrySet());
            sorted.sort((a, b) -> a.getKey().topic().equals(b.getKey().topic())
                    ? Integer.compare(a.getKey().partition(), b.getKey().partition())
                    : a.getKey().topic().compareTo(b.getKey().topic()));
            for (Map.Entry<TopicPartition, long[]> entry : sorted) {
                long[] offset = entry.getValue();
                partitions.append(partitions.length() == 0 ? "" : ",").append('[').append(quote(entry.getKey().topic()))
                        .append(',').append(entry.getKey().partition()).append(',').append(orNull(offset[0]))
                        .append(',').append(orNull(offset[1])).append(']');
            }
        }
        String json = "{\"v\":" + RECORD_VERSION + ",\"group\":" + quote(group) + ",\"client_id\":" + quote(clientId)
                + ",\"reporter\":" + quote(reporter) + ",\"ts_ms\":" + tsMs + ",\"interval_ms\":" + intervalMs
                + ",\"source\":\"" + SOURCE + "\",\"partitions\":[" + partitions + "]}";
        return json.getBytes(StandardCharsets.UTF_8);
    }

    private static String orNull(long offset) {
        return offset < 0 ? "null" : Long.toString(offset);
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder(text.length() + 2).append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.append('"').toString();
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception unknown) {
            String name = ManagementFactory.getRuntimeMXBean().getName(); // "pid@host"
            return name.substring(name.indexOf('@') + 1);
        }
    }
}
