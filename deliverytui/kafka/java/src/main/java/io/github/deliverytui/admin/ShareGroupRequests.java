package io.github.deliverytui.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterShareGroupOffsetsOptions;
import org.apache.kafka.clients.admin.DeleteShareGroupOffsetsOptions;
import org.apache.kafka.clients.admin.DescribeShareGroupsOptions;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsOptions;
import org.apache.kafka.clients.admin.ListShareGroupOffsetsSpec;
import org.apache.kafka.clients.admin.ShareGroupDescription;
import org.apache.kafka.clients.admin.ShareMemberDescription;
import org.apache.kafka.clients.admin.SharePartitionOffsetInfo;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;

/** Share groups (KIP-932): describe, offsets (start offset and share lag), and the two offset writes. */
final class ShareGroupRequests {
    private ShareGroupRequests() {}

    static void register(Map<String, AdminHelper.Request> table) {
        table.put("describe_share_group", ShareGroupRequests::describe);
        table.put("share_group_offsets", ShareGroupRequests::offsets);
        table.put("alter_share_group_offsets", ShareGroupRequests::alterOffsets);
        table.put("delete_share_group_offsets", ShareGroupRequests::deleteOffsets);
    }

    static ObjectNode topicPartition(ObjectNode into, TopicPartition tp) {
        return into.put("topic", tp.topic()).put("partition", tp.partition());
    }

    static final Comparator<TopicPartition> BY_TOPIC_PARTITION =
            Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition);

    /** The group's state, coordinator, epochs and members, each with its assignment and member epoch. */
    static Object describe(Admin admin, JsonNode args, int timeoutMs) throws Exception {
        String group = args.path("group").asText();
        ShareGroupDescription description = admin
                .describeShareGroups(List.of(group), new DescribeShareGroupsOptions().timeoutMs(timeoutMs))
                .describedGroups().get(group).get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        ObjectNode answer = AdminHelper.JSON.createObjectNode();
        answer.put("group", description.groupId());
        answer.put("state", description.groupState().toString());
        Node coordinator = description.coordinator();
        if (coordinator == null || coordinator.isEmpty()) {
            answer.putNull("coordinator");
        } else {
            answer.putObject("coordinator").put("id", coordinator.id()).put("host", coordinator.host())
                    .put("port", coordinator.port());
        }
        answer.put("group_epoch", description.groupEpoch());
        answer.put("assignment_epoch", description.targetAssignmentEpoch());
        ArrayNode members = answer.putArray("members");
        for (ShareMemberDescription member : description.members()) {
            ObjectNode row = members.addObject();
            row.put("member_id", member.consumerId());
            row.put("client_id", member.clientId());
            row.put("host", member.host());
            row.put("rack_id", member.rackId().orElse(null));
            row.put("member_epoch", member.memberEpoch());
            ArrayNode assignment = row.putArray("assignment");
            member.assignment().topicPartitions().stream().sorted(BY_TOPIC_PARTITION)
                    .forEach(tp -> topicPartition(assignment.addObject(), tp));
        }
        return answer;
    }

    /**
     * Every partition the group has share-partition state for: start offset, leader epoch and Kafka's share
     * lag. A partition the group has not fetched from yet has no state, and Kafka's tool prints "-": null here.
     */
    static Object offsets(Admin admin, JsonNode args, int timeoutMs) throws Exception {
        String group = args.path("group").asText();
        Map<TopicPartition, SharePartitionOffsetInfo> infos = admin
                .listShareGroupOffsets(Map.of(group, new ListShareGroupOffsetsSpec()),
                        new ListShareGroupOffsetsOptions().timeoutMs(timeoutMs))
                .partitionsToOffsetInfo(group).get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        ArrayNode rows = AdminHelper.JSON.createArrayNode();
        infos.keySet().stream().sorted(BY_TOPIC_PARTITION).forEach(tp -> {
            ObjectNode row = topicPartition(rows.addObject(), tp);
            SharePartitionOffsetInfo info = infos.get(tp);
            if (info == null) {
                row.putNull("start_offset").putNull("leader_epoch").putNull("lag");
            } else {
                row.put("start_offset", info.startOffset());
                row.put("leader_epoch", info.leaderEpoch().orElse(null));
                row.put("lag", info.lag().orElse(null));
            }
        });
        return rows;
    }

    /** Sets start offsets ({@code [{"topic","partition","offset"}]}); Kafka refuses it unless the group is empty. */
    static Object alterOffsets(Admin admin, JsonNode args, int timeoutMs) throws Exception {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        for (JsonNode row : args.path("offsets")) {
            offsets.put(new TopicPartition(row.path("topic").asText(), row.path("partition").asInt()),
                    row.path("offset").asLong());
        }
        admin.alterShareGroupOffsets(args.path("group").asText(), offsets,
                new AlterShareGroupOffsetsOptions().timeoutMs(timeoutMs))
                .all().get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        return AdminHelper.JSON.createObjectNode().put("altered", offsets.size());
    }

    /** Deletes the group's share-partition state for whole topics, as {@code kafka-share-groups --delete-offsets}. */
    static Object deleteOffsets(Admin admin, JsonNode args, int timeoutMs) throws Exception {
        Set<String> topics = new HashSet<>();
        args.path("topics").forEach(topic -> topics.add(topic.asText()));
        admin.deleteShareGroupOffsets(args.path("group").asText(), topics,
                new DeleteShareGroupOffsetsOptions().timeoutMs(timeoutMs))
                .all().get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        return AdminHelper.JSON.createObjectNode().put("deleted", topics.size());
    }
}
