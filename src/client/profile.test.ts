import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Profile, ProfileError, loadProfile, pinsOf, preparePrivateFolder, profileServers, resolveProfileDir, saveProfile } from './profile.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'chorus-profile-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const sample: Profile = {
  server: 'http://127.0.0.1:6789',
  token: 'secret-token',
  user: { id: 7, name: 'Ada', email: 'ada@example.com' },
};

describe('resolveProfileDir', () => {
  const env = { CHORUS_HOME: '/srv/chorus-home', XDG_CONFIG_HOME: '/home/ada/.xdg', HOME: '/home/ada' };

  it('takes the explicit folder first, made absolute', () => {
    expect(resolveProfileDir('/tmp/explicit', env)).toBe('/tmp/explicit');
    expect(resolveProfileDir('relative/dir', env)).toBe(resolve('relative/dir'));
  });

  it('then CHORUS_HOME', () => {
    expect(resolveProfileDir(undefined, env)).toBe('/srv/chorus-home');
  });

  it('then $XDG_CONFIG_HOME/chorus', () => {
    expect(resolveProfileDir(undefined, { ...env, CHORUS_HOME: undefined })).toBe('/home/ada/.xdg/chorus');
    expect(resolveProfileDir(undefined, { ...env, CHORUS_HOME: '' })).toBe('/home/ada/.xdg/chorus');
  });

  it('then ~/.config/chorus', () => {
    expect(resolveProfileDir(undefined, { HOME: '/home/ada' })).toBe('/home/ada/.config/chorus');
  });
});

describe('saveProfile and loadProfile', () => {
  it('round-trips a profile, and finds none in an empty folder', async () => {
    expect(await loadProfile(join(root, 'nothing-here'))).toBeUndefined();
    await saveProfile(root, sample);
    expect(await loadProfile(root)).toEqual(sample);
  });

  it('creates the folder 0700 and the file 0600, whatever the umask', async () => {
    const previous = process.umask(0o000);
    try {
      const dir = join(root, 'nested', 'profile');
      await saveProfile(dir, sample);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'profile.json')).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a profile file that was readable by others when it rewrites it', async () => {
    writeFileSync(join(root, 'profile.json'), JSON.stringify({ server: 'http://old' }), { mode: 0o644 });
    await saveProfile(root, sample);
    expect(statSync(join(root, 'profile.json')).mode & 0o777).toBe(0o600);
  });

  it('makes an existing folder 0700 and its profile 0600 when it loads it, as a command starts', async () => {
    const dir = join(root, 'made-by-hand');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'profile.json'), JSON.stringify(sample), { mode: 0o644 });
    chmodSync(join(dir, 'profile.json'), 0o644);
    expect(await loadProfile(dir)).toEqual(sample);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'profile.json')).mode & 0o777).toBe(0o600);
  });

  it("refuses a folder that belongs to another user, whatever its mode, and writes nothing into it", async () => {
    const dir = join(root, 'made-by-another');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    chownSync(dir, 65534, 65534);
    const refusal = `${dir} belongs to another user (uid 65534): a profile folder must be your own; choose another with --profile`;
    await expect(loadProfile(dir)).rejects.toThrow(refusal);
    await expect(saveProfile(dir, sample)).rejects.toThrow(refusal);
    await expect(preparePrivateFolder(dir)).rejects.toThrow(refusal);
    expect(readdirSync(dir)).toEqual([]);
    expect(statSync(dir).mode & 0o777).toBe(0o777);
  });

  it('makes an existing 0755 folder 0700 when it saves into it', async () => {
    const dir = join(root, 'open-folder');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    await saveProfile(dir, sample);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('replaces the file by renaming a complete new one over it, leaving no temporary file', async () => {
    await saveProfile(root, sample);
    const before = statSync(join(root, 'profile.json')).ino;
    await saveProfile(root, { ...sample, token: 'another' });
    expect(statSync(join(root, 'profile.json')).ino).not.toBe(before);
    expect(readdirSync(root)).toEqual(['profile.json']);
  });

  it('never lets a reader see half a profile while it is being rewritten', async () => {
    // Large profiles, rewritten back to back while another chain reads: a writer that truncated
    // and wrote in place would show readers empty or cut-off files.
    const big = (i: number): Profile => ({ ...sample, token: String(i % 10).repeat(200_000) });
    await saveProfile(root, big(0));
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 30; i++) await saveProfile(root, big(i));
      writing = false;
    })();
    const seen: (Profile | undefined)[] = [];
    const reader = (async () => {
      while (writing) seen.push(await loadProfile(root));
    })();
    await Promise.all([writer, reader]);
    expect(seen.length).toBeGreaterThan(0);
    for (const profile of seen) expect(profile?.token).toMatch(/^(\d)\1{199999}$/);
    expect(readdirSync(root)).toEqual(['profile.json']);
  });

  it('keeps the old profile and removes its temporary file when a write fails', async () => {
    await saveProfile(root, sample);
    const unserializable = { ...sample, token: 1n } as unknown as Profile;
    await expect(saveProfile(root, unserializable)).rejects.toThrow();
    expect(await loadProfile(root)).toEqual(sample);
    expect(readdirSync(root)).toEqual(['profile.json']);
  });

  it('refuses a damaged profile with a message naming the file', async () => {
    writeFileSync(join(root, 'profile.json'), '{"server": "http://x", "tok');
    await expect(loadProfile(root)).rejects.toThrow(ProfileError);
    await expect(loadProfile(root)).rejects.toThrow(join(root, 'profile.json'));
    writeFileSync(join(root, 'profile.json'), JSON.stringify({ token: 'no server' }));
    await expect(loadProfile(root)).rejects.toThrow(/not a Chorus profile/);
  });

  it('keeps a pinned TLS fingerprint, and refuses one that is not a fingerprint', async () => {
    const pinned = { ...sample, server: 'https://10.0.0.5:6789', tlsFingerprint: `AB:${'01:'.repeat(30)}FF` };
    await saveProfile(root, pinned);
    expect(await loadProfile(root)).toEqual(pinned);
    writeFileSync(join(root, 'profile.json'), JSON.stringify({ ...pinned, tlsFingerprint: 'ab01' }));
    await expect(loadProfile(root)).rejects.toThrow(/not a Chorus profile/);
  });

  it('keeps further servers with their own pins, lists them home first, and refuses a malformed one', async () => {
    const fingerprint = (pair: string) => `${pair}:${'01:'.repeat(30)}FF`;
    const several: Profile = {
      ...sample,
      server: 'https://10.0.1.5:6789',
      tlsFingerprint: fingerprint('AA'),
      serverKey: 'key-a',
      alternates: [{ server: 'https://10.0.2.5:6789', tlsFingerprint: fingerprint('BB'), serverKey: 'key-b' }, { server: 'http://10.0.3.5:6789' }],
    };
    await saveProfile(root, several);
    const loaded = await loadProfile(root);
    expect(loaded).toEqual(several);
    expect(profileServers(loaded!)).toEqual([
      { url: 'https://10.0.1.5:6789', tlsFingerprint: fingerprint('AA'), serverKey: 'key-a' },
      { url: 'https://10.0.2.5:6789', tlsFingerprint: fingerprint('BB'), serverKey: 'key-b' },
      { url: 'http://10.0.3.5:6789' },
    ]);
    expect(pinsOf(loaded, 'https://10.0.2.5:6789')).toEqual({ tlsFingerprint: fingerprint('BB'), serverKey: 'key-b' });
    expect(pinsOf(loaded, 'https://10.9.9.9:6789')).toEqual({});
    for (const alternates of [{}, [{ tlsFingerprint: fingerprint('BB') }], [{ server: 'https://b', tlsFingerprint: 'bb' }], [{ server: 'https://b', serverKey: 7 }]]) {
      writeFileSync(join(root, 'profile.json'), JSON.stringify({ ...several, alternates }));
      await expect(loadProfile(root)).rejects.toThrow(/not a Chorus profile/);
    }
  });

  it('loads a profile of one server as it always did: one server in the list', async () => {
    writeFileSync(join(root, 'profile.json'), JSON.stringify({ ...sample, serverKey: 'key-a' }));
    const loaded = await loadProfile(root);
    expect(loaded).toEqual({ ...sample, serverKey: 'key-a' });
    expect(profileServers(loaded!)).toEqual([{ url: sample.server, serverKey: 'key-a' }]);
  });

  it('writes readable JSON', async () => {
    await saveProfile(root, sample);
    expect(JSON.parse(readFileSync(join(root, 'profile.json'), 'utf8'))).toEqual(sample);
  });
});
