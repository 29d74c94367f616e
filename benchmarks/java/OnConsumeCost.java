import deliverytui.probe.ProbeInterceptor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * What one poll's worth of ProbeInterceptor work costs the consumer's thread: onConsume on a batch of
 * max.poll.records (500) records over N partitions, called in a loop, in nanoseconds per call (and one onCommit
 * per 10 polls, as an auto-commit of 5 s at ~100 polls/s would be rarer still). Run by benchmarks/interceptor.py
 * with Java's single-file launcher: java -cp "<kafka libs>/*:<probe jar>" OnConsumeCost.java BOOTSTRAP PARTITIONS.
 * The interceptor is configured as a consumer would configure it, so its daemon thread publishes once a second.
 */
public final class OnConsumeCost {
    public static void main(String[] args) throws Exception {
        int partitions = Integer.parseInt(args[1]);
        ProbeInterceptor<byte[], byte[]> probe = new ProbeInterceptor<>();
        probe.configure(Map.of("bootstrap.servers", args[0], "group.id", "bench-onconsume", "client.id", "bench-onconsume"));
        List<ConsumerRecords<byte[], byte[]>> batches = new ArrayList<>();
        long offset = 0;
        for (int b = 0; b < 64; b++) { // distinct batches, so nothing is constant-folded
            Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> records = new HashMap<>();
            Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
            for (int p = 0; p < partitions; p++) {
                TopicPartition tp = new TopicPartition("bench", p);
                List<ConsumerRecord<byte[], byte[]>> list = new ArrayList<>();
                for (int i = 0; i < 500 / partitions; i++) {
                    list.add(new ConsumerRecord<>("bench", p, offset + i, null, new byte[16]));
                }
                records.put(tp, list);
                next.put(tp, new OffsetAndMetadata(offset + list.size()));
            }
            offset += 500;
            batches.add(new ConsumerRecords<>(records, next));
        }
        long sink = 0;
        for (int round = 0; round < 3; round++) { // the first rounds warm the JIT; the last is reported
            int calls = 2_000_000;
            long began = System.nanoTime();
            for (int i = 0; i < calls; i++) {
                ConsumerRecords<byte[], byte[]> batch = batches.get(i & 63);
                sink += probe.onConsume(batch).count();
                if (i % 10 == 0) {
                    probe.onCommit(batch.nextOffsets());
                }
            }
            long elapsed = System.nanoTime() - began;
            if (round == 2) {
                System.out.printf("onConsume ns/call %.1f (%d partitions, 500 records per call, %d calls; sink %d)%n",
                        (double) elapsed / calls, partitions, calls, sink % 7);
            }
        }
        probe.close();
    }
}
