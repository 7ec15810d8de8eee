// The pure parts of the kind node image builder: reading kind's Go constants and Dockerfile, the
// wrapper go.mod, image naming, and where the Debian mirror comes from.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { debianMirror } from '../images/build.ts';
import { componentImages, goStringConstants, kindBasePackages, normalizeImage, wrapperGoMod, type KindSources } from '../images/kind-node.ts';

describe('goStringConstants', () => {
  it('evaluates raw and quoted literals joined with + and earlier constants', () => {
    const src = [
      'package nodeimage',
      'const img = "docker.io/kindest/x:v1"',
      'var imgs = []string{img}',
      'const manifest = `',
      'a: 1',
      '  image: ` + img + `',
      '`',
      'const other = "q\\"x"',
    ].join('\n');
    const c = goStringConstants(src);
    expect(c.img).toBe('docker.io/kindest/x:v1');
    expect(c.manifest).toBe('\na: 1\n  image: docker.io/kindest/x:v1\n');
    expect(c.other).toBe('q"x');
    expect(c.imgs).toBeUndefined();
  });

  it('skips a constant that uses an unknown identifier', () => {
    expect(goStringConstants('const a = "x" + unknown\nconst b = "y"')).toEqual({ b: 'y' });
  });
});

describe('kindBasePackages', () => {
  it('reads the clean-install list of the first stage', () => {
    const df = 'RUN echo \\\n    && DEBIAN_FRONTEND=noninteractive clean-install \\\n      systemd \\\n      conntrack iptables \\\n    && find /x\nRUN clean-install \\\n  other \\\n  && true\n';
    expect(kindBasePackages(df)).toEqual(['systemd', 'conntrack', 'iptables']);
  });
});

describe('wrapperGoMod', () => {
  const gomod = [
    'module go.etcd.io/etcd/server/v3',
    '',
    'go 1.24',
    '',
    'godebug default=go1.24',
    '',
    'replace (',
    '\tgo.etcd.io/etcd/api/v3 => ../api',
    '\tgo.etcd.io/etcd/pkg/v3 => ../pkg',
    ')',
    'replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY',
    'replace example.com/x => example.com/y v1.0.0',
  ].join('\n');

  it('requires the module and replaces each relative replace with a release', () => {
    const w = wrapperGoMod('etcd', 'go.etcd.io/etcd/server/v3', 'v3.6.5', gomod, () => 'v3.6.5');
    expect(w).toContain('module statebench.local/kind-node/etcd\n');
    expect(w).toContain('go 1.24\n');
    expect(w).toContain('godebug default=go1.24\n');
    expect(w).toContain('require go.etcd.io/etcd/server/v3 v3.6.5\n');
    expect(w).toContain('\tgo.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.6.5\n');
    expect(w).toContain('\tgo.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 v3.6.5\n');
    expect(w).not.toContain('FORBIDDEN');
    expect(w).not.toContain('example.com');
  });
});

describe('normalizeImage', () => {
  it('names images the way containerd lists them', () => {
    expect(normalizeImage('registry.k8s.io/pause:3.10')).toBe('registry.k8s.io/pause:3.10');
    expect(normalizeImage('kindest/kindnetd:v1')).toBe('docker.io/kindest/kindnetd:v1');
    expect(normalizeImage('busybox:1')).toBe('docker.io/library/busybox:1');
    expect(normalizeImage('localhost:5001/x:1')).toBe('localhost:5001/x:1');
  });
});

describe('componentImages', () => {
  const kind = {
    sandboxImage: 'registry.k8s.io/pause:3.10',
    storageProvisionerImage: 'docker.io/kindest/local-path-provisioner:v1',
    storageHelperImage: 'docker.io/kindest/local-path-helper:v2',
  } as KindSources;
  const kubeadmImages = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']
    .map((c) => `registry.k8s.io/${c}:v1.34.4`)
    .concat(['registry.k8s.io/coredns/coredns:v1.12.1', 'registry.k8s.io/pause:3.10.1', 'registry.k8s.io/etcd:3.6.5-0']);

  it('carries every name kubeadm and kind expect, pause under both tags', () => {
    const images = componentImages({ kubeadmImages, kind, baseRef: 'statebench/kind-base:b', kindnetRef: 'docker.io/statebench/kindnet:t', label: 'x=y' });
    const names = images.flatMap((i) => i.names);
    for (const n of [...kubeadmImages, kind.sandboxImage, kind.storageProvisionerImage, kind.storageHelperImage, 'docker.io/statebench/kindnet:t']) expect(names).toContain(n);
    expect(new Set(names).size).toBe(names.length);
    const proxy = images.find((i) => i.names[0]!.includes('kube-proxy'))!;
    expect(proxy.dockerfile).toMatch(/^FROM statebench\/kind-base:b\n/);
    expect(proxy.dockerfile).toContain('STOPSIGNAL SIGTERM');
    expect(images.find((i) => i.names[0]!.includes('/etcd:'))!.dockerfile).toMatch(/^FROM scratch\n/);
  });

  it('fails when kubeadm names no image for a component', () => {
    expect(() => componentImages({ kubeadmImages: kubeadmImages.filter((i) => !i.includes('etcd')), kind, baseRef: 'b', kindnetRef: 'k', label: 'x=y' })).toThrow(/etcd/);
  });
});

describe('debianMirror', () => {
  const apt = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'statebench-apt-'));
    mkdirSync(join(dir, 'sources.list.d'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return dir;
  };

  it('takes the URI of the deb822 stanza that serves the suite', () => {
    const dir = apt({
      'sources.list.d/debian.sources': 'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n',
    });
    expect(debianMirror('bookworm', {}, dir)).toBe('http://mirror.example/debian');
  });

  it('reads one-line sources.list entries, options included', () => {
    const dir = apt({ 'sources.list': '# x\ndeb [arch=amd64 signed-by=/k.gpg] http://other.example/debian bookworm main\n' });
    expect(debianMirror('bookworm', {}, dir)).toBe('http://other.example/debian');
  });

  it('prefers STATEBENCH_DEBIAN_MIRROR and fails when nothing names a mirror', () => {
    const dir = apt({});
    expect(debianMirror('bookworm', { STATEBENCH_DEBIAN_MIRROR: 'http://env.example/debian' }, dir)).toBe('http://env.example/debian');
    expect(() => debianMirror('bookworm', {}, dir)).toThrow(/no Debian mirror for bookworm/);
  });
});
