package io.github.deliverytui.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeFeaturesOptions;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.common.config.ConfigResource;

/** Requests about groups of every type, and the cluster features that decide which types exist. */
final class GroupRequests {
    private GroupRequests() {}

    static void register(Map<String, AdminHelper.Request> table) {
        table.put("list_groups", GroupRequests::listGroups);
        table.put("finalized_features", GroupRequests::finalizedFeatures);
        table.put("alter_group_config", GroupRequests::alterGroupConfig);
    }

    /** Every group, whatever its type (ListGroups with no type filter): what librdkafka's call leaves out. */
    static Object listGroups(org.apache.kafka.clients.admin.Admin admin, JsonNode args, int timeoutMs) throws Exception {
        Collection<GroupListing> listed = admin.listGroups(new ListGroupsOptions().timeoutMs(timeoutMs))
                .all().get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        ArrayNode groups = AdminHelper.JSON.createArrayNode();
        for (GroupListing listing : listed) {
            ObjectNode group = groups.addObject();
            group.put("group", listing.groupId());
            group.put("type", listing.type().map(type -> type.toString().toLowerCase()).orElse("unknown"));
            group.put("protocol", listing.protocol());
            group.put("state", listing.groupState().map(Object::toString).orElse("Unknown"));
            group.put("simple", listing.isSimpleConsumerGroup());
        }
        return groups;
    }

    /** Finalized feature levels ({@code share.version}, {@code group.version}...): 0 or absent means off. */
    static Object finalizedFeatures(org.apache.kafka.clients.admin.Admin admin, JsonNode args, int timeoutMs) throws Exception {
        FeatureMetadata metadata = admin.describeFeatures(new DescribeFeaturesOptions().timeoutMs(timeoutMs))
                .featureMetadata().get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        ObjectNode levels = AdminHelper.JSON.createObjectNode();
        metadata.finalizedFeatures().forEach((name, range) -> levels.put(name, range.maxVersionLevel()));
        return levels;
    }

    /** Sets (or, for a null value, deletes) dynamic configs of one group, such as {@code share.auto.offset.reset}. */
    static Object alterGroupConfig(org.apache.kafka.clients.admin.Admin admin, JsonNode args, int timeoutMs) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.GROUP, args.path("group").asText());
        List<AlterConfigOp> ops = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> entries = args.path("configs").fields();
        while (entries.hasNext()) {
            Map.Entry<String, JsonNode> entry = entries.next();
            boolean delete = entry.getValue().isNull();
            ops.add(new AlterConfigOp(new ConfigEntry(entry.getKey(), delete ? null : entry.getValue().asText()),
                    delete ? AlterConfigOp.OpType.DELETE : AlterConfigOp.OpType.SET));
        }
        admin.incrementalAlterConfigs(Map.of(resource, ops), new AlterConfigsOptions().timeoutMs(timeoutMs))
                .all().get(timeoutMs + 1000L, TimeUnit.MILLISECONDS);
        return AdminHelper.JSON.createObjectNode().put("altered", ops.size());
    }
}
