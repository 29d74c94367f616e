package io.github.deliverytui.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeProducersOptions;
import org.apache.kafka.clients.admin.DescribeProducersResult;
import org.apache.kafka.clients.admin.DescribeTransactionsOptions;
import org.apache.kafka.clients.admin.DescribeTransactionsResult;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.common.TopicPartition;

/**
 * Open transactions on given partitions: who holds a partition's last stable offset down.
 *
 * <p>The same three steps as Kafka's {@code kafka-transactions --find-hanging}: DescribeProducers on the
 * partitions (a producer with a current transaction start offset has a transaction open there), then
 * ListTransactions filtered by those producer ids (the transactional id, when the principal may
 * describe it), then DescribeTransactions (state, start time, timeout, and whether the coordinator
 * still counts the partition in the transaction: if not, the transaction hangs and no marker is coming).
 * Each partition answers on its own: one without Read on its topic reports its error, the others still answer.
 */
final class TransactionRequests {
    private TransactionRequests() {}

    static void register(Map<String, AdminHelper.Request> table) {
        table.put("open_transactions", TransactionRequests::openTransactions);
    }

    static Object openTransactions(Admin admin, JsonNode args, int timeoutMs) throws Exception {
        List<TopicPartition> partitions = new ArrayList<>();
        for (JsonNode item : args.path("partitions")) {
            partitions.add(new TopicPartition(item.path("topic").asText(), item.path("partition").asInt()));
        }
        DescribeProducersResult producers = admin.describeProducers(partitions, new DescribeProducersOptions().timeoutMs(timeoutMs));
        ArrayNode answer = AdminHelper.JSON.createArrayNode();
        List<ObjectNode> open = new ArrayList<>();
        Set<Long> producerIds = new HashSet<>();
        for (TopicPartition tp : partitions) {
            ObjectNode entry = ShareGroupRequests.topicPartition(answer.addObject(), tp);
            ArrayNode transactions = entry.putArray("transactions");
            Collection<ProducerState> active;
            try {
                active = producers.partitionResult(tp).get(timeoutMs + 1000L, TimeUnit.MILLISECONDS).activeProducers();
            } catch (ExecutionException exc) {
                entry.set("error", AdminHelper.error(null, exc).path("error"));
                continue;
            }
            for (ProducerState state : active) {
                if (state.currentTransactionStartOffset().isEmpty()) {
                    continue;
                }
                ObjectNode transaction = transactions.addObject();
                transaction.put("producer_id", state.producerId());
                transaction.put("producer_epoch", state.producerEpoch());
                transaction.put("start_offset", state.currentTransactionStartOffset().getAsLong());
                transaction.put("last_timestamp_ms", state.lastTimestamp());
                transaction.put("topic", tp.topic()).put("partition", tp.partition());
                open.add(transaction);
                producerIds.add(state.producerId());
            }
        }
        if (open.isEmpty()) {
            return answer;
        }
        Map<Long, String> transactionalIds = new HashMap<>();
        try {
            Collection<TransactionListing> listings = admin
                    .listTransactions(new ListTransactionsOptions().filterProducerIds(producerIds).timeoutMs(timeoutMs))
                    .all().get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
            for (TransactionListing listing : listings) {
                if (producerIds.contains(listing.producerId())) {
                    transactionalIds.put(listing.producerId(), listing.transactionalId());
                }
            }
        } catch (ExecutionException exc) {
            for (ObjectNode transaction : open) {
                transaction.set("lookup_error", AdminHelper.error(null, exc).path("error"));
            }
            return answer;
        }
        Map<String, TransactionDescription> descriptions = new HashMap<>();
        if (!transactionalIds.isEmpty()) {
            DescribeTransactionsResult described = admin.describeTransactions(
                    new HashSet<>(transactionalIds.values()), new DescribeTransactionsOptions().timeoutMs(timeoutMs));
            for (String transactionalId : new HashSet<>(transactionalIds.values())) {
                try {
                    descriptions.put(transactionalId,
                            described.description(transactionalId).get(timeoutMs + 1000L, TimeUnit.MILLISECONDS));
                } catch (ExecutionException exc) {
                    // TransactionalIdNotFound or no Describe on it: the id stays known, its details do not.
                }
            }
        }
        for (ObjectNode transaction : open) {
            String transactionalId = transactionalIds.get(transaction.path("producer_id").asLong());
            if (transactionalId == null) {
                transaction.putNull("transactional_id");
                continue;
            }
            transaction.put("transactional_id", transactionalId);
            TransactionDescription description = descriptions.get(transactionalId);
            if (description == null) {
                continue;
            }
            transaction.put("state", description.state().toString());
            transaction.put("timeout_ms", description.transactionTimeoutMs());
            if (description.transactionStartTimeMs().isPresent()) {
                transaction.put("start_time_ms", description.transactionStartTimeMs().getAsLong());
            }
            TopicPartition tp = new TopicPartition(transaction.path("topic").asText(), transaction.path("partition").asInt());
            transaction.put("coordinator_counts_partition", description.topicPartitions().contains(tp));
        }
        return answer;
    }
}
