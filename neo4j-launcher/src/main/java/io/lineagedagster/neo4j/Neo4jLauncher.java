package io.lineagedagster.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
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
 *
 * <p>When the login differs from the one last applied (a salted fingerprint kept in the data
 * directory, so a deleted store gets its login again), it is set first with Bolt closed, so no
 * client ever meets a server whose password is not yet set.
 */
public final class Neo4jLauncher {
  private static final String DEFAULT_USER = "neo4j";
  private static final String SAME_PASSWORD_MESSAGE = "cannot be the same";
  /** The fingerprint's file, in the data directory: it goes when the store goes. */
  private static final String CREDENTIALS_FILE = "data/.lineage-credentials";
  /** Where earlier versions kept it (beside the store, so a deleted store kept it). */
  private static final String OLD_CREDENTIALS_FILE = ".credentials";

  private Neo4jLauncher() {}

  public static void main(String[] args) throws InterruptedException, IOException {
    if (args.length < 1 || args.length > 2) {
      System.err.println("usage: Neo4jLauncher HOME_DIR [PORT]");
      System.exit(2);
    }
    Path home = Path.of(args[0]).toAbsolutePath();
    int port = args.length == 2 ? Integer.parseInt(args[1]) : 7687;
    String user = envOr("NEO4J_USER", DEFAULT_USER);
    String password = System.getenv("NEO4J_PASSWORD");
    boolean authEnabled = password != null && !password.isEmpty();

    if (authEnabled && !credentialsApplied(home, user, password)) {
      DatabaseManagementService setup = builder(home, authEnabled)
          .setConfig(BoltConnector.enabled, false)
          .build();
      try {
        setCredentials(setup.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), user, password);
      } finally {
        setup.shutdown();
      }
      recordCredentials(home, user, password);
    }
    DatabaseManagementService service =
        builder(home, authEnabled)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
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

    System.out.println("READY bolt://127.0.0.1:" + port + (authEnabled ? " auth=" + user : " auth=none"));
    System.out.flush();
    stopped.await();
  }

  private static DatabaseManagementServiceBuilder builder(Path home, boolean authEnabled) {
    DatabaseManagementServiceBuilder builder =
        new DatabaseManagementServiceBuilder(home)
            .setConfig(GraphDatabaseSettings.auth_enabled, authEnabled)
            .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheBytes());
    String transactionMax = envOr("NEO4J_TRANSACTION_MAX_MB", "");
    if (!transactionMax.isEmpty()) {
      // db.memory.transaction.max: the memory one transaction may use (0 = no limit of its own).
      builder.setConfig(
          GraphDatabaseSettings.memory_transaction_max_size,
          Long.parseLong(transactionMax) * 1024 * 1024);
    }
    return builder;
  }

  /** Whether this exact login was applied to the data in {@code home} before. */
  private static boolean credentialsApplied(Path home, String user, String password)
      throws IOException {
    Path file = home.resolve(CREDENTIALS_FILE);
    if (!Files.exists(file)) {
      return false;
    }
    String[] saltAndHash = Files.readString(file, StandardCharsets.UTF_8).trim().split(":", 2);
    return saltAndHash.length == 2
        && saltAndHash[1].equals(fingerprint(saltAndHash[0], user, password));
  }

  private static void recordCredentials(Path home, String user, String password)
      throws IOException {
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    String saltHex = HexFormat.of().formatHex(salt);
    Path file = home.resolve(CREDENTIALS_FILE);
    Files.createDirectories(file.getParent());
    Files.deleteIfExists(home.resolve(OLD_CREDENTIALS_FILE));
    Files.writeString(
        file,
        saltHex + ":" + fingerprint(saltHex, user, password),
        StandardCharsets.UTF_8);
  }

  private static String fingerprint(String salt, String user, String password) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      byte[] hash =
          digest.digest((salt + "\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(hash);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
    }
  }

  /** Makes the environment the source of truth for the login. */
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
