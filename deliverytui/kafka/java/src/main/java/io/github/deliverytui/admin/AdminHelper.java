package io.github.deliverytui.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RetriableException;

/**
 * Kafka's own Admin client behind a JSON-lines pipe, for the calls confluent-kafka lacks.
 *
 * <p>Why a long-lived child and not one JVM per call: a JVM start costs about half a second, so the
 * live view starts one helper per session and sends it a request every refresh.
 *
 * <p>Protocol (UTF-8, one JSON object per line). The first line on stdin is the client configuration,
 * {@code {"properties": {...}}}: it may hold secrets, which is why it never travels on argv. The helper
 * answers {@code {"ready": true}} once the Admin client exists. Every later line is a request
 * {@code {"id": n, "op": "...", "args": {...}}}, answered by exactly one line, {@code {"id": n, "ok": ...}}
 * or {@code {"id": n, "error": {"type": "...", "message": "...", "retriable": bool}}}. End of stdin closes
 * the client and exits 0. Nothing else is ever written to stdout: logging and stray prints go to stderr.
 */
public final class AdminHelper {
    /** One request kind: takes the request's arguments, returns the answer's {@code ok} value. */
    @FunctionalInterface
    interface Request {
        Object answer(Admin admin, JsonNode args, int timeoutMs) throws Exception;
    }

    static final ObjectMapper JSON = new ObjectMapper();

    private AdminHelper() {}

    /** Every request the helper answers, by name: adding one is adding a line here. */
    static Map<String, Request> requests() {
        Map<String, Request> table = new HashMap<>();
        table.put("ping", (admin, args, timeoutMs) -> JSON.createObjectNode().put("pong", true));
        ConsumerGroupRequests.register(table);
        GroupRequests.register(table);
        ShareGroupRequests.register(table);
        TransactionRequests.register(table);
        return table;
    }

    public static void main(String[] argv) throws Exception {
        PrintStream protocol = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        System.setOut(System.err); // anything a library prints must not corrupt the protocol
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String first = in.readLine();
        if (first == null) {
            return;
        }
        Properties properties = new Properties();
        Iterator<Map.Entry<String, JsonNode>> fields = JSON.readTree(first).path("properties").fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            properties.put(field.getKey(), field.getValue().asText());
        }
        Map<String, Request> table = requests();
        try (Admin admin = Admin.create(properties)) {
            protocol.println(JSON.createObjectNode().put("ready", true));
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.isBlank()) {
                    protocol.println(JSON.writeValueAsString(handle(admin, table, line)));
                }
            }
        } catch (KafkaException exc) {
            protocol.println(JSON.writeValueAsString(error(null, exc)));
        }
    }

    static ObjectNode handle(Admin admin, Map<String, Request> table, String line) {
        JsonNode request;
        try {
            request = JSON.readTree(line);
        } catch (Exception exc) {
            return error(null, new IllegalArgumentException("not a JSON request: " + exc.getMessage()));
        }
        JsonNode id = request.path("id");
        Request kind = table.get(request.path("op").asText());
        if (kind == null) {
            return error(id, new IllegalArgumentException("unknown op " + request.path("op")));
        }
        int timeoutMs = request.path("timeout_ms").asInt(10_000);
        try {
            ObjectNode answer = JSON.createObjectNode();
            answer.set("id", id);
            answer.set("ok", JSON.valueToTree(kind.answer(admin, request.path("args"), timeoutMs)));
            return answer;
        } catch (Exception exc) {
            return error(id, exc);
        }
    }

    /** The answer to a failed request: the Kafka exception's simple class name says what went wrong. */
    static ObjectNode error(JsonNode id, Throwable exc) {
        Throwable cause = exc;
        while ((cause instanceof ExecutionException || cause.getClass() == KafkaException.class
                || cause instanceof java.util.concurrent.CompletionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        ObjectNode answer = JSON.createObjectNode();
        if (id != null) {
            answer.set("id", id);
        }
        ObjectNode error = answer.putObject("error");
        error.put("type", cause.getClass().getSimpleName());
        error.put("message", String.valueOf(cause.getMessage()));
        error.put("retriable", cause instanceof RetriableException);
        return answer;
    }
}
