package io.github.deliverytui.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.MemberAssignment;
import org.apache.kafka.clients.admin.MemberDescription;

/**
 * Consumer groups of the KIP-848 {@code consumer} protocol: the epochs and target assignments that
 * librdkafka's DescribeConsumerGroups does not return (it keeps only each member's current assignment).
 *
 * <p>Why this matters: in the consumer protocol the coordinator computes a target assignment at a target
 * epoch, and each member converges to it on its own heartbeats, revoking before the next owner may take a
 * partition. Comparing current with target, and member epochs with the group epoch, is how one sees a
 * rebalance in progress and when it settled.
 */
final class ConsumerGroupRequests {
    private ConsumerGroupRequests() {}

    static void register(Map<String, AdminHelper.Request> table) {
        table.put("describe_consumer_group_epochs", ConsumerGroupRequests::describeEpochs);
    }

    private static void putEpoch(ObjectNode into, String name, Optional<Integer> epoch) {
        if (epoch.isPresent()) {
            into.put(name, epoch.get());
        } else {
            into.putNull(name); // a classic group, or a broker that does not say
        }
    }

    private static void putAssignment(ObjectNode into, String name, MemberAssignment assignment) {
        ArrayNode rows = into.putArray(name);
        assignment.topicPartitions().stream().sorted(ShareGroupRequests.BY_TOPIC_PARTITION)
                .forEach(tp -> ShareGroupRequests.topicPartition(rows.addObject(), tp));
    }

    /** Group type, state, group and target-assignment epochs, and per member: epoch, current and target assignment. */
    static Object describeEpochs(Admin admin, JsonNode args, int timeoutMs) throws Exception {
        String group = args.path("group").asText();
        ConsumerGroupDescription description = admin
                .describeConsumerGroups(List.of(group), new DescribeConsumerGroupsOptions().timeoutMs(timeoutMs))
                .describedGroups().get(group).get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        ObjectNode answer = AdminHelper.JSON.createObjectNode();
        answer.put("group", description.groupId());
        answer.put("type", description.type().toString().toLowerCase());
        answer.put("state", description.groupState().toString());
        putEpoch(answer, "group_epoch", description.groupEpoch());
        putEpoch(answer, "target_assignment_epoch", description.targetAssignmentEpoch());
        ArrayNode members = answer.putArray("members");
        for (MemberDescription member : description.members()) {
            ObjectNode row = members.addObject();
            row.put("member_id", member.consumerId());
            row.put("client_id", member.clientId());
            row.put("host", member.host());
            row.put("instance_id", member.groupInstanceId().orElse(null));
            putEpoch(row, "member_epoch", member.memberEpoch());
            row.put("upgraded", member.upgraded().orElse(null));
            putAssignment(row, "assignment", member.assignment());
            if (member.targetAssignment().isPresent()) {
                putAssignment(row, "target_assignment", member.targetAssignment().get());
            } else {
                row.putNull("target_assignment");
            }
        }
        return answer;
    }
}
