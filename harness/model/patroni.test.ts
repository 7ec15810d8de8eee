// Pure checks, no processes: the options schema, the rendered Patroni and HAProxy configuration, and
// the HA profiles against the profile schema extended the way engine.patroni / targets[].patroni are
// meant to be added.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { Engine, Profile, Target } from './profile.ts';
import { PATRONI_DEFAULTS, PatroniOptions, PatroniOverrides, resolvePatroniOptions } from './patroni.ts';
import { clusterParameters, memberConfig, renderHaproxyConfig, renderPatroniConfig } from '../engine/patroni/config.ts';

describe('PatroniOptions', () => {
  it("defaults to Patroni's own values", () => {
    expect(PATRONI_DEFAULTS).toEqual({ ttl: 30, loopWait: 10, retryTimeout: 10, maximumLagOnFailover: 1048576, replication: 'async', usePgRewind: true, access: 'haproxy' });
  });

  it('enforces loop_wait + 2 × retry_timeout ≤ ttl and blames the side that set it', () => {
    expect(PatroniOptions.safeParse({ ttl: 10, loopWait: 2, retryTimeout: 4 }).success).toBe(true);
    const bad = PatroniOptions.safeParse({ ttl: 10, loopWait: 2, retryTimeout: 5 });
    expect(bad.error?.issues[0]).toMatchObject({ path: ['ttl'], message: expect.stringContaining('2 + 2 × 5 = 12 > 10') });
    expect(resolvePatroniOptions({ ttl: 10, loopWait: 2, retryTimeout: 4 }, { retryTimeout: 6 }, 1).problems[0].path).toEqual(['targets', 1, 'patroni', 'ttl']);
    expect(resolvePatroniOptions({ ttl: 10, loopWait: 8 }, { access: 'direct' }, 0).problems[0].path).toEqual(['engine', 'patroni', 'ttl']);
    expect(resolvePatroniOptions({ ttl: 10, loopWait: 2, retryTimeout: 4 }, { replication: 'sync-strict' }, 0).options).toMatchObject({ ttl: 10, replication: 'sync-strict', access: 'haproxy' });
  });

  it('rejects unknown keys and fractional seconds', () => {
    expect(PatroniOverrides.safeParse({ synchronous_mode: true }).success).toBe(false);
    expect(PatroniOptions.safeParse({ ttl: 10.5 }).error?.issues[0].message).toMatch(/whole seconds/);
  });
});

describe('Patroni configuration', () => {
  const options = PatroniOptions.parse({ ttl: 10, loopWait: 2, retryTimeout: 4, replication: 'sync-strict', usePgRewind: true });
  const cfg = memberConfig({
    scope: 's',
    name: 'node-1',
    apiPort: 8008,
    pgPort: 5433,
    etcdClientPort: 2379,
    dataDir: '/v/pgdata',
    binDir: '/usr/lib/postgresql/15/bin',
    pgpass: '/s/pgpass',
    socketDir: '/s/sock',
    settings: { shared_buffers: '32MB', port: 1, synchronous_standby_names: '*' },
    options,
  });

  it('renders the documented keys as YAML', () => {
    const doc = parse(renderPatroniConfig(cfg));
    expect(doc.bootstrap.dcs).toMatchObject({ ttl: 10, loop_wait: 2, retry_timeout: 4, maximum_lag_on_failover: 1048576, synchronous_mode: true, synchronous_mode_strict: true });
    expect(doc.bootstrap.dcs.postgresql).toMatchObject({ use_pg_rewind: true, use_slots: true });
    expect(doc.restapi).toEqual({ listen: '127.0.0.1:8008', connect_address: '127.0.0.1:8008' });
    expect(doc.etcd3).toEqual({ hosts: ['127.0.0.1:2379'], protocol: 'http' });
    expect(doc.postgresql).toMatchObject({ listen: '127.0.0.1:5433', data_dir: '/v/pgdata', use_pg_rewind: true });
    expect(doc.postgresql.authentication.replication.username).toBe('replicator');
    expect(doc.watchdog.mode).toBe('off');
  });

  it('leaves the parameters Patroni owns to Patroni', () => {
    const p = clusterParameters({ shared_buffers: '32MB', port: 1, listen_addresses: '*', synchronous_standby_names: '*' });
    expect(p).toMatchObject({ shared_buffers: '32MB', wal_level: 'replica', wal_log_hints: true, hot_standby: true });
    expect(p).not.toHaveProperty('port');
    expect(p).not.toHaveProperty('listen_addresses');
    expect(p).not.toHaveProperty('synchronous_standby_names');
  });

  it('points HAProxy health checks at each member’s REST /primary', () => {
    const text = renderHaproxyConfig(6000, [
      { name: 'node-0', pgPort: 5432, apiPort: 8008 },
      { name: 'node-1', pgPort: 5433, apiPort: 8009 },
    ]);
    expect(text).toContain('bind 127.0.0.1:6000');
    expect(text).toContain('option httpchk OPTIONS /primary');
    expect(text).toContain('http-check expect status 200');
    expect(text).toContain('default-server inter 3000ms fall 3 rise 2 on-marked-down shutdown-sessions');
    expect(text).toContain('server node-1 127.0.0.1:5433 maxconn 200 check port 8009');
  });
});

describe('HA profiles', () => {
  // The profile schema as it reads once engine.patroni and targets[].patroni are added.
  const WithPatroni = Profile.extend({
    targets: z.array(Target.extend({ patroni: PatroniOverrides.optional() })).min(1),
    engine: Engine.extend({ patroni: PatroniOptions.optional() }),
  });

  for (const file of ['profiles/ha-failover.yaml', 'profiles/agent-failure.yaml']) {
    it(`${file} validates, and every cycle holds the node down longer than ttl`, () => {
      const r = WithPatroni.safeParse(parse(readFileSync(file, 'utf8')));
      expect(r.error?.issues ?? []).toEqual([]);
      const p = r.data!;
      expect(p.engine.kind).toBe('patroni');
      p.targets.forEach((t, i) => {
        const { options, problems } = resolvePatroniOptions(p.engine.patroni, t.patroni, i);
        expect(problems).toEqual([]);
        for (const f of p.faults) if (f.type === 'node-crash' || f.type === 'agent-kill') expect(f.downFor).toBeGreaterThan(options!.ttl * 1000);
      });
    });
  }
});
