/*
 * TestNode - a single OpenSearch 2.19 node embedded in this JVM, the real search
 * engine that sql2es's tests and demo talk to over HTTP (test infrastructure; it
 * sits outside the YAML -> plan -> rows -> documents -> _bulk pipeline).
 *
 * It starts the node with the HTTP (Netty4) and reindex (_delete_by_query)
 * modules, waits until the cluster is at least yellow, prints exactly one line
 * "READY http://127.0.0.1:PORT" on stdout, logs everything else to stderr, and
 * blocks until SIGTERM/SIGINT, when it closes the node cleanly.
 *
 * It does not run OpenSearch's Bootstrap (no security manager, no JarHell, no
 * bootstrap checks), loads no plugins from disk and has no security plugin.
 *
 * Usage: java -cp 'target/classes:target/dependency/*' org.sql2es.testnode.TestNode
 *            --home DIR [--http-port N] [--max-seconds S] [--setting key=value]...
 * The same values can come from system properties testnode.home,
 * testnode.http.port and testnode.max.seconds. --http-port 0 (the default)
 * picks a free port. As a guard against orphaned nodes on shared machines the
 * node shuts itself down after --max-seconds (0, the default, means never) or
 * when its home directory disappears (a test run removed its temp dir).
 */
package org.sql2es.testnode;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

public final class TestNode {
    private static final Logger LOG = LogManager.getLogger(TestNode.class);

    /** Node's constructor that takes classpath plugins is protected: expose it. */
    private static final class EmbeddedNode extends Node {
        EmbeddedNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    private TestNode() {
    }

    private static void usage(String why) {
        System.err.println("testnode: " + why);
        System.err.println("usage: TestNode --home DIR [--http-port N] [--setting key=value]...");
        System.exit(2);
    }

    public static void main(String[] args) throws Exception {
        String home = System.getProperty("testnode.home");
        String httpPort = System.getProperty("testnode.http.port", "0");
        String maxSeconds = System.getProperty("testnode.max.seconds", "0");
        Map<String, String> extra = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (i + 1 >= args.length) {
                usage("missing value after " + a);
            }
            switch (a) {
                case "--home": home = args[++i]; break;
                case "--http-port": httpPort = args[++i]; break;
                case "--max-seconds": maxSeconds = args[++i]; break;
                case "--setting": {
                    String kv = args[++i];
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        usage("--setting wants key=value, got " + kv);
                    }
                    extra.put(kv.substring(0, eq), kv.substring(eq + 1));
                    break;
                }
                default: usage("unknown argument " + a);
            }
        }
        if (home == null || home.isEmpty()) {
            usage("--home DIR is required");
        }
        long maxSecs = 0;
        try {
            maxSecs = Long.parseLong(maxSeconds);
        } catch (NumberFormatException e) {
            usage("--max-seconds wants a number, got " + maxSeconds);
        }
        Path homeDir = Paths.get(home).toAbsolutePath();
        Files.createDirectories(homeDir.resolve("data"));
        Files.createDirectories(homeDir.resolve("logs"));

        Settings.Builder b = Settings.builder()
            .put("path.home", homeDir.toString())
            .put("path.data", homeDir.resolve("data").toString())
            .put("path.logs", homeDir.resolve("logs").toString())
            .put("cluster.name", "sql2es-test")
            .put("node.name", "node-1")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("indices.breaker.total.use_real_memory", false)
            .put("action.auto_create_index", "true");
        extra.forEach(b::put);

        Environment env = InternalSettingsPreparer.prepareEnvironment(b.build(), Map.of(), null,
            () -> "node-1");
        List<Class<? extends Plugin>> plugins = new ArrayList<>();
        plugins.add(Netty4Plugin.class);
        plugins.add(ReindexPlugin.class);
        plugins.add(MapperExtrasPlugin.class);

        long t0 = System.nanoTime();
        Node node = new EmbeddedNode(env, plugins);
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LOG.info("testnode: shutting down");
            try {
                node.close();
                if (!node.awaitClose(20, TimeUnit.SECONDS)) {
                    LOG.warn("testnode: node did not close within 20 s");
                }
            } catch (IOException | InterruptedException | RuntimeException e) {
                LOG.warn("testnode: error while closing", e);
            } finally {
                closed.countDown();
                LogManager.shutdown();
            }
        }, "testnode-shutdown"));

        node.start();
        int port = node.injector().getInstance(HttpServerTransport.class)
            .boundAddress().publishAddress().getPort();
        String url = "http://127.0.0.1:" + port;
        waitForYellow(url);
        LOG.info("testnode: ready at {} after {} ms", url, (System.nanoTime() - t0) / 1_000_000);
        System.out.println("READY " + url);
        System.out.flush();
        watchdog(homeDir, maxSecs);
        closed.await();
    }

    /**
     * Exits the JVM (running the shutdown hook, which closes the node) once
     * maxSecs have passed (when > 0) or the home directory is gone.
     */
    private static void watchdog(Path homeDir, long maxSecs) {
        long deadline = maxSecs > 0 ? System.nanoTime() + TimeUnit.SECONDS.toNanos(maxSecs) : 0;
        Thread t = new Thread(() -> {
            try {
                while (true) {
                    Thread.sleep(2000);
                    if (!Files.isDirectory(homeDir)) {
                        LOG.warn("testnode: home directory {} is gone, exiting", homeDir);
                        break;
                    }
                    if (deadline != 0 && System.nanoTime() - deadline > 0) {
                        LOG.warn("testnode: --max-seconds {} reached, exiting", maxSecs);
                        break;
                    }
                }
            } catch (InterruptedException e) {
                return;
            }
            System.exit(0);
        }, "testnode-watchdog");
        t.setDaemon(true);
        t.start();
    }

    /** Blocks until GET /_cluster/health?wait_for_status=yellow answers 200. */
    private static void waitForYellow(String url) throws Exception {
        URI uri = URI.create(url + "/_cluster/health?wait_for_status=yellow&timeout=30s");
        for (int attempt = 0; attempt < 20; attempt++) {
            HttpURLConnection c = (HttpURLConnection) uri.toURL().openConnection();
            c.setConnectTimeout(5000);
            c.setReadTimeout(40000);
            try {
                int code = c.getResponseCode();
                InputStream in = code < 400 ? c.getInputStream() : c.getErrorStream();
                String body = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
                if (code == 200 && !body.contains("\"timed_out\":true")) {
                    return;
                }
                LOG.info("testnode: waiting for yellow: {} {}", code, body);
            } catch (IOException e) {
                LOG.info("testnode: waiting for yellow: {}", e.toString());
            } finally {
                c.disconnect();
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("cluster did not become yellow");
    }
}
