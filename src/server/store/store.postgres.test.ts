import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { storeContract } from './store.case.js';

// The PostgreSQL this machine (and CI) runs: trust auth on 127.0.0.1, database `test`. Each
// database the suite asks for is one of its own, dropped afterwards.
const ADMIN_URL = process.env.CHORUS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

storeContract('PostgreSQL', async () => {
  const name = `chorus_contract_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    target: { engine: 'postgres', url: url.toString() },
    async dispose() {
      await admin.query(`drop database if exists ${name}`);
      await admin.end();
    },
  };
});
