package io.lineagedagster.neo4j;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Runs Neo4j Community embedded with a Bolt connector on loopback until SIGTERM.
 *
 * <p>Usage: {@code java -cp 'target/lib/*:target/classes' io.lineagedagster.neo4j.Neo4jLauncher
 * HOME_DIR [PORT]}. Auth is enabled when {@code NEO4J_PASSWORD} is set; the user is
 * {@code NEO4J_USER} (default {@code neo4j}). Prints {@code READY bolt://127.0.0.1:PORT} on stdout
 * once Bolt accepts connections, and {@code STOPPED} after a graceful shutdown.
 */
public final class Neo4jLauncher {
  private static final String DEFAULT_USER = "neo4j";
  private static final String SAME_PASSWORD_MESSAGE = "cannot be the same";

  private Neo4jLauncher() {}

  public static void main(String[] args) throws InterruptedException {
    if (args.length < 1 || args.length > 2) {
      System.err.println("usage: Neo4jLauncher HOME_DIR [PORT]");
      System.exit(2);
    }
    Path home = Path.of(args[0]).toAbsolutePath();
    int port = args.length == 2 ? Integer.parseInt(args[1]) : 7687;
    String user = envOr("NEO4J_USER", DEFAULT_USER);
    String password = System.getenv("NEO4J_PASSWORD");
    boolean authEnabled = password != null && !password.isEmpty();

    DatabaseManagementService service =
        new DatabaseManagementServiceBuilder(home)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
            .setConfig(GraphDatabaseSettings.auth_enabled, authEnabled)
            .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheBytes())
            .build();

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  service.shutdown();
                  System.out.println("STOPPED");
                  System.out.flush();
                  stopped.countDown();
                },
                "neo4j-shutdown"));

    if (authEnabled) {
      setCredentials(service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), user, password);
    }
    System.out.println("READY bolt://127.0.0.1:" + port + (authEnabled ? " auth=" + user : " auth=none"));
    System.out.flush();
    stopped.await();
  }

  /** Makes the environment the source of truth for the login, on every start. */
  private static void setCredentials(GraphDatabaseService system, String user, String password) {
    Map<String, Object> params = Map.of("user", user, "password", password);
    system.executeTransactionally(
        "CREATE USER $user IF NOT EXISTS SET PASSWORD $password CHANGE NOT REQUIRED", params);
    try {
      system.executeTransactionally(
          "ALTER USER $user SET PASSWORD $password CHANGE NOT REQUIRED", params);
    } catch (RuntimeException e) {
      // Neo4j refuses to "change" a password to its current value; that is the normal restart case.
      if (!String.valueOf(e.getMessage()).contains(SAME_PASSWORD_MESSAGE)) {
        throw e;
      }
    }
  }

  private static long pageCacheBytes() {
    long megabytes = Long.parseLong(envOr("NEO4J_PAGECACHE_MB", "256"));
    return megabytes * 1024 * 1024;
  }

  private static String envOr(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }
}
