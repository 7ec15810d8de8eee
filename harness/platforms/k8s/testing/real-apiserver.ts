// A real kube-apiserver and etcd, started as processes on 127.0.0.1 from the binaries built for the kind
// node image (no kubelet, no controllers): what admission, validation and the API's own semantics do,
// in seconds. Binaries come from $STATEBENCH_K8S_BIN, else the newest build under
// /var/cache/statebench/kind-node/*/bin.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get as httpsGet } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from '../../../core/net.ts';
import { met, notYet, waitFor } from '../../../core/wait.ts';

const CACHE = '/var/cache/statebench/kind-node';

/** The directory holding kube-apiserver and etcd, or undefined when neither place has them. */
export function kubeBinDir(): string | undefined {
  const env = process.env.STATEBENCH_K8S_BIN;
  const has = (d: string) => existsSync(join(d, 'kube-apiserver')) && existsSync(join(d, 'etcd'));
  if (env) return has(env) ? env : undefined;
  if (!existsSync(CACHE)) return undefined;
  const dirs = readdirSync(CACHE)
    .map((d) => join(CACHE, d, 'bin'))
    .filter(has)
    .sort((a, b) => statSync(join(b, 'kube-apiserver')).mtimeMs - statSync(join(a, 'kube-apiserver')).mtimeMs);
  return dirs[0];
}

export class RealApiServer {
  private procs: ChildProcess[] = [];
  private dir = '';
  private log = '';
  url = '';
  private token = '';

  constructor(private readonly bin: string) {}

  async start(timeoutMs = 90_000): Promise<this> {
    this.dir = mkdtempSync(join(tmpdir(), 'statebench-apiserver-'));
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const run = (cmd: string, args: string[]) => {
      const p = spawn(join(this.bin, cmd), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (b: Buffer) => (this.log = (this.log + String(b)).slice(-20_000));
      p.stdout!.on('data', keep);
      p.stderr!.on('data', keep);
      this.procs.push(p);
      return p;
    };
    run('etcd', [
      '--data-dir', join(this.dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
      '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster', `default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
    ]);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyFile = join(this.dir, 'sa.key');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    this.token = randomBytes(16).toString('hex');
    const tokens = join(this.dir, 'tokens.csv');
    writeFileSync(tokens, `${this.token},admin,admin,system:masters\n`);
    run('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(this.dir, 'certs')}`,
      `--service-account-issuer=https://kubernetes.default.svc`,
      `--service-account-key-file=${keyFile}`,
      `--service-account-signing-key-file=${keyFile}`,
      `--token-auth-file=${tokens}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
    ]);
    this.url = `https://127.0.0.1:${apiPort}`;
    const readyz = () =>
      new Promise<number | string>((resolve) => {
        const req = httpsGet(`${this.url}/readyz`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${this.token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 'no status');
        });
        req.on('error', (e) => resolve(e.message));
      });
    await waitFor(
      'kube-apiserver to answer /readyz with 200',
      async () => {
        const answer = await readyz();
        if (answer === 200) return met(undefined);
        if (this.procs.some((p) => p.exitCode !== null)) throw new Error(`kube-apiserver or etcd exited:\n${this.log.slice(-3000)}`);
        return notYet(() => `/readyz: ${answer}; the log ends:\n${this.log.slice(-3000)}`);
      },
      { timeoutMs, intervalMs: 300 },
    );
    return this;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'real', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'admin', token: this.token }],
      contexts: [{ name: 'real', cluster: 'real', user: 'admin' }],
      currentContext: 'real',
    });
    return kc;
  }

  async stop(): Promise<void> {
    for (const p of this.procs.reverse()) {
      if (p.exitCode === null) {
        p.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => (p.kill('SIGKILL'), r(undefined)), 5_000);
          p.once('exit', () => (clearTimeout(t), r(undefined)));
        });
      }
    }
    this.procs = [];
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
