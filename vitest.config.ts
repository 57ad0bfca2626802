import { configDefaults, defineConfig } from 'vitest/config';

// Integration suites that cannot run on PostgreSQL as they are, each for its reason:
const SQLITE_ONLY = [
  // Servers in other processes or network namespaces (their own CLI and data folders), which
  // test/support/server.ts does not start.
  'test/browser/**',
  'test/netns/**',
  // About the embedded SQLite file itself: what the data folder holds at rest. (The SIGKILL
  // drill, test/crash.test.ts, spawns its server with the database of the engine under test.)
  'test/security/at-rest.test.ts',
  // The command line: `chorus server` / `chorus up` spawned as processes on a data folder.
  'test/cli.test.ts',
  'test/tls-cli.test.ts',
  'test/up.test.ts',
];

const POSTGRES_ONLY = [
  // About PostgreSQL itself: connections it ends, a database that goes away for a while; and
  // cluster mode, which is PostgreSQL (+ NATS) only.
  'test/postgres-faults.test.ts',
  'test/cluster.test.ts',
  // Two servers (sites) on one database, which clients list both: on SQLite that is no
  // deployment (one file in one server's data folder).
  'test/server-failover.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests bind real ports and multicast groups; files run in parallel
    // processes, each picking its own free ports.
    pool: 'forks',
    // Every integration suite runs once per engine; the project's name (in each test's name)
    // says which. test/support/server.ts reads CHORUS_TEST_ENGINE; on PostgreSQL its servers run
    // in cluster mode (CHORUS_TEST_CLUSTER: each one a server of a cluster on the machine's NATS).
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts', 'web/src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...POSTGRES_ONLY],
          env: { CHORUS_TEST_ENGINE: 'sqlite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...SQLITE_ONLY],
          env: { CHORUS_TEST_ENGINE: 'postgres', CHORUS_TEST_CLUSTER: '1' },
        },
      },
    ],
  },
});
