/**
 * l2lb's own kubeconfig reader (src/kube/kubeconfig.ts): each field, paths relative to the kubeconfig, the
 * errors an operator sees (exec stanzas included), and the same answers as @kubernetes/client-node for the
 * files both read. Running exec plugins is test/kube/exec.test.ts.
 */
import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { KubeConfigError, loadKubeAccess } from '../../src/kube/access.ts';
import { readKubeconfig } from '../../src/kube/kubeconfig.ts';
import { CA, CERT, KEY, V1, V1BETA1, b64, places, single, write } from '../support/kubeconfig-files.ts';

const place = places('l2lb-kubeconfig-');

interface Config {
  clusters?: Record<string, Record<string, unknown>>;
  users?: Record<string, Record<string, unknown>>;
  contexts?: Record<string, Record<string, unknown>>;
  current?: string;
}

/** A kubeconfig from maps of name → body, written as YAML to `dir/kubeconfig`. */
function kubeconfig(dir: string, c: Config, name = 'kubeconfig'): string {
  const doc: Record<string, unknown> = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: Object.entries(c.clusters ?? {}).map(([n, cluster]) => ({ name: n, cluster })),
    users: Object.entries(c.users ?? {}).map(([n, user]) => ({ name: n, user })),
    contexts: Object.entries(c.contexts ?? {}).map(([n, context]) => ({ name: n, context })),
  };
  if (c.current) doc['current-context'] = c.current;
  return write(dir, name, YAML.stringify(doc));
}

const load = (path: string, context?: string, env: Record<string, string | undefined> = {}) => loadKubeAccess({ kubeconfig: path, env, ...(context ? { context } : {}) });
const failure = (path: string, context?: string) => {
  try {
    load(path, context);
  } catch (error) {
    expect(error).toBeInstanceOf(KubeConfigError);
    return (error as Error).message;
  }
  throw new Error(`${path} loaded without error`);
};

describe('fields', () => {
  test('server (trailing slash dropped), inline CA, token (trimmed), namespace and where it came from', async () => {
    const dir = place();
    const path = kubeconfig(dir, {
      clusters: { c1: { server: 'https://api.example.test:6443/', 'certificate-authority-data': b64(CA) } },
      users: { u1: { token: ' abc123\n' } },
      contexts: { ctx1: { cluster: 'c1', user: 'u1', namespace: 'team-a' } },
      current: 'ctx1',
    });
    const a = load(path);
    expect(a.server).toBe('https://api.example.test:6443');
    expect(a.caPem).toBe(CA);
    expect(await a.token?.()).toBe('abc123');
    expect(a.namespace).toBe('team-a');
    expect(a.insecureSkipTLSVerify).toBeUndefined();
    expect(a.source).toBe(`kubeconfig ${path} (context ctx1)`);
  });

  test('a server with a path (Rancher-style proxy) keeps the path', () => {
    const a = load(single(place(), { token: 't' }, { server: 'https://rancher.example.test/k8s/clusters/c-abc/' }));
    expect(a.server).toBe('https://rancher.example.test/k8s/clusters/c-abc');
  });

  test('certificate files resolve against the kubeconfig directory, not the working directory', () => {
    const dir = place();
    write(dir, 'pki/ca.crt', CA);
    write(dir, 'pki/client.crt', CERT);
    write(dir, 'pki/client.key', KEY);
    const path = single(dir, { 'client-certificate': 'pki/client.crt', 'client-key': './pki/client.key' }, { 'certificate-authority': 'pki/ca.crt' });
    const a = load(path);
    expect([a.caPem, a.certPem, a.keyPem]).toEqual([CA, CERT, KEY]);
    expect(a.token).toBeUndefined();
  });

  test('absolute certificate paths and inline certificate data', () => {
    const dir = place();
    const caFile = write(dir, 'elsewhere/ca.pem', CA);
    const a = load(single(dir, { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }, { 'certificate-authority': caFile }));
    expect([a.caPem, a.certPem, a.keyPem]).toEqual([CA, CERT, KEY]);
  });

  test('insecure-skip-tls-verify: true, and YAML 1.1 `yes` as client-go reads it', () => {
    expect(load(single(place(), { token: 't' }, { 'insecure-skip-tls-verify': true })).insecureSkipTLSVerify).toBe(true);
    expect(load(single(place(), { token: 't' }, { 'insecure-skip-tls-verify': false })).insecureSkipTLSVerify).toBeUndefined();
    const dir = place();
    const path = write(dir, 'kubeconfig', 'clusters:\n- name: c1\n  cluster:\n    server: https://192.0.2.1\n    insecure-skip-tls-verify: yes\nusers:\n- name: u1\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: c1, user: u1}\ncurrent-context: x\n');
    expect(load(path).insecureSkipTLSVerify).toBe(true);
  });

  test('tokenFile and token-file resolve against the kubeconfig directory; a tokenFile wins over token', async () => {
    const dir = place();
    write(dir, 'secrets/token', 'from-file\n');
    expect(await load(single(dir, { tokenFile: 'secrets/token', token: 'static' })).token?.()).toBe('from-file');
    expect(await load(single(dir, { 'token-file': 'secrets/token' })).token?.()).toBe('from-file');
    expect(readKubeconfig(single(dir, { tokenFile: 'secrets/token' })).credential).toEqual({ kind: 'tokenFile', path: join(dir, 'secrets/token') });
  });

  test('contexts: current-context, an explicit one, a namespace or default, a context without a user', async () => {
    const dir = place();
    const path = kubeconfig(dir, {
      clusters: { a: { server: 'https://a.example.test' }, b: { server: 'http://b.example.test:8080' } },
      users: { ua: { token: 'token-a' }, ub: { token: 'token-b' } },
      contexts: { ctxa: { cluster: 'a', user: 'ua', namespace: 'ns-a' }, ctxb: { cluster: 'b', user: 'ub' }, anon: { cluster: 'b' } },
      current: 'ctxb',
    });
    const b = load(path);
    expect([b.server, b.namespace, await b.token?.()]).toEqual(['http://b.example.test:8080', 'default', 'token-b']);
    const a = load(path, 'ctxa');
    expect([a.server, a.namespace, await a.token?.(), a.source]).toEqual(['https://a.example.test', 'ns-a', 'token-a', `kubeconfig ${path} (context ctxa)`]);
    const anon = load(path, 'anon');
    expect(anon.token).toBeUndefined();
    expect(anon.certPem).toBeUndefined();
  });

  test('a JSON kubeconfig reads like YAML', async () => {
    const dir = place();
    const path = write(dir, 'config.json', JSON.stringify({ clusters: [{ name: 'c', cluster: { server: 'https://192.0.2.9' } }], users: [{ name: 'u', user: { token: 'json' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
    expect(await load(path).token?.()).toBe('json');
  });

  test('an exec plugin is not run when the user also has a token or a client certificate (client-go skips it too)', () => {
    const exec = { apiVersion: V1, command: '/nonexistent/plugin' };
    expect(readKubeconfig(single(place(), { token: 't', exec })).credential).toEqual({ kind: 'token', token: 't' });
    const withCert = readKubeconfig(single(place(), { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY), exec }));
    expect(withCert.credential).toBeUndefined();
    expect(withCert.certPem).toBe(CERT);
  });

  test('an exec command with a / resolves against the kubeconfig directory; a bare name stays a PATH lookup', () => {
    const dir = place();
    const rel = readKubeconfig(single(dir, { exec: { apiVersion: V1, command: './bin/plugin' } })).credential;
    expect(rel).toMatchObject({ kind: 'exec', plugin: { command: join(dir, 'bin/plugin') } });
    const bare = readKubeconfig(single(dir, { exec: { apiVersion: V1, command: 'kubelogin' } })).credential;
    expect(bare).toMatchObject({ kind: 'exec', plugin: { command: 'kubelogin' } });
  });

  test('what is refused matters only for the context in use', async () => {
    const dir = place();
    const path = kubeconfig(dir, {
      clusters: { c: { server: 'https://192.0.2.1' }, proxied: { server: 'https://192.0.2.2', 'proxy-url': 'http://proxy:3128' } },
      users: { good: { token: 'ok' }, legacy: { 'auth-provider': { name: 'gcp', config: {} } } },
      contexts: { ok: { cluster: 'c', user: 'good' }, old: { cluster: 'c', user: 'legacy' }, viaProxy: { cluster: 'proxied', user: 'good' } },
      current: 'ok',
    });
    expect(await load(path).token?.()).toBe('ok');
    expect(failure(path, 'old')).toContain('auth-provider "gcp"');
    expect(failure(path, 'viaProxy')).toContain('proxy-url');
  });
});

describe('errors name the file, the context and what is wrong', () => {
  test('YAML that does not parse: the line and column', () => {
    const path = write(place(), 'kubeconfig', 'clusters:\n- name: c1\n  cluster: {server: https://x\nusers: []\n');
    expect(failure(path)).toMatch(new RegExp(`^kubeconfig ${path}: not valid YAML: .* at line \\d+, column \\d+$`));
    const dup = write(place(), 'kubeconfig', 'clusters: []\nusers: []\nclusters: []\n');
    expect(failure(dup)).toMatch(/not valid YAML: Map keys must be unique at line 3, column 1$/);
  });

  test('an empty file, a file that is not a mapping, a file of another kind', () => {
    const dir = place();
    expect(failure(write(dir, 'empty', '\n# nothing\n'))).toEndWith(': the file is empty');
    expect(failure(write(dir, 'list', '- a\n- b\n'))).toContain('not a kubeconfig (a mapping with clusters, users and contexts), but a list');
    expect(failure(write(dir, 'pod', 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n'))).toContain(': is a Pod, not a kubeconfig (kind: Config)');
    expect(failure(dir)).toBe(`kubeconfig ${dir}: not a regular file`);
  });

  test('structure: missing names, bodies and servers, and fields of the wrong type', () => {
    const dir = place();
    const noName = write(dir, 'a', 'clusters:\n- cluster: {server: https://x}\n');
    expect(failure(noName)).toBe(`kubeconfig ${noName}: clusters[0].name is missing`);
    const noServer = write(dir, 'b', 'clusters:\n- name: ok\n  cluster: {server: https://x}\n- name: c2\n  cluster: {certificate-authority: ca.crt}\n');
    expect(failure(noServer)).toBe(`kubeconfig ${noServer}: clusters[1].cluster.server is missing (cluster "c2")`);
    const noCluster = write(dir, 'c', 'contexts:\n- name: x\n  context: {user: u}\n');
    expect(failure(noCluster)).toBe(`kubeconfig ${noCluster}: contexts[0].context.cluster is missing (context "x")`);
    expect(failure(single(dir, { token: 't' }, { 'insecure-skip-tls-verify': 'maybe' }))).toContain('clusters[0].cluster.insecure-skip-tls-verify must be true or false, not "maybe" (cluster "c1")');
    expect(failure(single(dir, { token: 12345 }))).toContain('users[0].user.token must be a string, not 12345 (YAML reads it unquoted as a number; quote it) (user "u1")');
    expect(failure(write(dir, 'd', 'clusters: {c1: {server: https://x}}\n'))).toContain('kubeconfig.clusters must be a list, not a mapping');
  });

  test('no current-context, an unknown context, cluster or user: the names that exist', () => {
    const dir = place();
    const path = kubeconfig(dir, {
      clusters: { c1: { server: 'https://192.0.2.1' } },
      users: { u1: { token: 't' } },
      contexts: { ctx1: { cluster: 'c1', user: 'u1' }, lost: { cluster: 'c9', user: 'u1' }, stranger: { cluster: 'c1', user: 'nobody' } },
    });
    expect(failure(path)).toBe(`kubeconfig ${path}: no current-context is set and no context was chosen (contexts: ctx1, lost, stranger)`);
    expect(failure(path, 'prod')).toBe(`kubeconfig ${path}: context "prod" not found (contexts: ctx1, lost, stranger)`);
    expect(failure(path, 'lost')).toBe(`kubeconfig ${path} (context lost): cluster "c9" not found (clusters: c1)`);
    expect(failure(path, 'stranger')).toBe(`kubeconfig ${path} (context stranger): user "nobody" not found (users: u1)`);
  });

  test('a name defined twice is refused where it is used (kubectl and client-node would pick different ones)', () => {
    const path = write(place(), 'kubeconfig', 'clusters:\n- name: c1\n  cluster: {server: https://a}\n- name: c1\n  cluster: {server: https://b}\ncontexts:\n- name: x\n  context: {cluster: c1}\ncurrent-context: x\n');
    expect(failure(path)).toContain('(context x): cluster "c1" is defined 2 times (clusters[0], clusters[1])');
  });

  test('the server must be an http(s) URL; the namespace a DNS label', () => {
    const dir = place();
    expect(failure(single(dir, { token: 't' }, { server: '192.0.2.1:6443' }))).toContain('cluster "c1" server "192.0.2.1:6443" is not an http(s) URL');
    const path = kubeconfig(dir, { clusters: { c1: { server: 'https://x' } }, contexts: { x: { cluster: 'c1', namespace: 'Team_A' } }, current: 'x' });
    expect(failure(path)).toContain('(context x): namespace "Team_A" is not a valid namespace name');
  });

  test('a file and inline data for the same thing, and insecure-skip-tls-verify with a CA, are refused as kubectl refuses them', () => {
    const dir = place();
    write(dir, 'ca.crt', CA);
    expect(failure(single(dir, { token: 't' }, { 'certificate-authority': 'ca.crt', 'certificate-authority-data': b64(CA) }))).toContain('cluster "c1" sets both certificate-authority and certificate-authority-data; keep one');
    expect(failure(single(dir, { 'client-certificate': 'ca.crt', 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }))).toContain('user "u1" sets both client-certificate and client-certificate-data');
    expect(failure(single(dir, { token: 't' }, { 'certificate-authority-data': b64(CA), 'insecure-skip-tls-verify': true }))).toContain('cluster "c1" sets insecure-skip-tls-verify together with a certificate-authority');
    expect(failure(single(dir, { token: 't' }, { 'certificate-authority-data': 'not base64!' }))).toContain('certificate-authority-data is not base64');
    expect(failure(single(dir, { 'client-key-data': b64(KEY) }))).toContain('user "u1" has a client key but no client-certificate');
    expect(failure(single(dir, { 'client-certificate': 'missing.crt', 'client-key-data': b64(KEY) }))).toContain(`cannot read client certificate ${join(dir, 'missing.crt')}: ENOENT`);
  });

  test('tls-server-name: the server URL\'s own host is fine, another name is refused; proxy-url is refused', () => {
    const dir = place();
    expect(load(single(dir, { token: 't' }, { server: 'https://api.example.test:6443', 'tls-server-name': 'api.example.test' })).server).toBe('https://api.example.test:6443');
    expect(failure(single(dir, { token: 't' }, { server: 'https://192.0.2.1:6443', 'tls-server-name': 'kubernetes.default' }))).toContain(
      'cluster "c1" sets tls-server-name "kubernetes.default", which l2lb does not support (the server certificate is checked against the host of the server URL, 192.0.2.1)',
    );
    expect(failure(single(dir, { token: 't' }, { 'proxy-url': 'socks5://proxy:1080' }))).toContain('cluster "c1" sets proxy-url "socks5://proxy:1080", which l2lb does not support');
  });

  test('basic auth and impersonation are refused', () => {
    const dir = place();
    expect(failure(single(dir, { username: 'admin', password: 'secret' }))).toContain('user "u1" uses basic auth (username/password), which l2lb does not support; use a token or a client certificate');
    expect(failure(single(dir, { token: 't', as: 'admin', 'as-groups': ['system:masters'] }))).toContain('user "u1" sets as, as-groups (impersonation), which l2lb does not support');
  });

  test('auth-provider (gcp, azure, oidc) is refused at load, naming the provider and its exec-plugin successor', () => {
    const dir = place();
    const gcp = failure(single(dir, { 'auth-provider': { name: 'gcp', config: { 'cmd-path': '/usr/bin/gcloud' } } }));
    expect(gcp).toBe(
      `kubeconfig ${join(dir, 'kubeconfig')} (context ctx1): user "u1" uses auth-provider "gcp", which l2lb does not support (kubectl dropped auth providers in 1.26); ` +
        'use an exec credential plugin, for gcp gke-gcloud-auth-plugin (gcloud components install gke-gcloud-auth-plugin), or a ServiceAccount token (token or tokenFile)',
    );
    expect(failure(single(dir, { 'auth-provider': { name: 'azure', config: {} } }))).toContain('auth-provider "azure"');
    expect(failure(single(dir, { 'auth-provider': { name: 'azure', config: {} } }))).toContain('kubelogin (github.com/Azure/kubelogin');
    expect(failure(single(dir, { 'auth-provider': { name: 'oidc', config: { 'id-token': 'x' } } }))).toContain('for oidc kubelogin (github.com/int128/kubelogin');
    expect(failure(single(dir, { 'auth-provider': { name: 'custom' } }))).toContain('use an exec credential plugin, or a ServiceAccount token');
  });

  test('exec stanzas are checked at load: apiVersion, command, env names, interactiveMode', () => {
    const dir = place();
    const exec = (e: Record<string, unknown>) => failure(single(dir, { exec: { apiVersion: V1, command: 'plugin', ...e } }));
    expect(exec({ apiVersion: undefined })).toContain('user "u1" exec.apiVersion is missing (client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)');
    expect(exec({ apiVersion: 'client.authentication.k8s.io/v1alpha1' })).toContain('exec.apiVersion "client.authentication.k8s.io/v1alpha1" is not supported');
    expect(exec({ command: '' })).toContain('user "u1" exec.command is missing');
    expect(exec({ env: [{ value: 'x' }] })).toContain('exec.env[0].name is missing');
    expect(exec({ interactiveMode: 'Always' })).toContain('user "u1" exec has interactiveMode: Always, but l2lb runs without a terminal');
    expect(exec({ interactiveMode: 'Sometimes' })).toContain('exec.interactiveMode "Sometimes" is not one of Never, IfAvailable, Always');
    expect(readKubeconfig(single(dir, { exec: { apiVersion: V1BETA1, command: 'p', interactiveMode: 'IfAvailable' } })).credential?.kind).toBe('exec');
  });
});

describe('the same answers as @kubernetes/client-node', () => {
  /**
   * Files both readers take. Known differences, not compared here: client-node ignores client-go's
   * `tokenFile` (it knows only `token-file`, read relative to the working directory); it keeps a token's
   * whitespace where we trim it; it sends an exec token as well as a client certificate where client-go (and
   * l2lb) use the certificate alone; and it takes `certificate-authority` over `-data` where client-go takes
   * the data (l2lb refuses both at once, like kubectl).
   */
  function files(): { path: string; contexts: string[] }[] {
    const dir = place();
    write(dir, 'pki/ca.crt', CA);
    write(dir, 'pki/client.crt', CERT);
    write(dir, 'pki/client.key', KEY);
    const tokenFile = write(dir, 'secrets/token', 'from-token-file');
    return [
      { path: single(dir, { token: 'tok-1' }, { 'certificate-authority-data': b64(CA) }, 'token'), contexts: ['ctx1'] },
      { path: kubeconfig(join(dir, 'sub'), { clusters: { c: { server: 'https://10.0.0.1/', 'certificate-authority': '../pki/ca.crt' } }, users: { u: { 'client-certificate': '../pki/client.crt', 'client-key': '../pki/client.key' } }, contexts: { x: { cluster: 'c', user: 'u', namespace: 'kube-system' } }, current: 'x' }), contexts: ['x'] },
      { path: single(dir, { 'client-certificate-data': b64(CERT), 'client-key-data': b64(KEY) }, { 'certificate-authority-data': b64(CA) }, 'cert-data'), contexts: ['ctx1'] },
      { path: single(dir, { 'token-file': tokenFile }, { 'insecure-skip-tls-verify': true }, 'token-file'), contexts: ['ctx1'] },
      {
        path: kubeconfig(dir, {
          clusters: { prod: { server: 'https://prod.example.test:6443', 'certificate-authority': join(dir, 'pki/ca.crt') }, lab: { server: 'https://[2001:db8::1]:6443', 'insecure-skip-tls-verify': true } },
          users: { admin: { 'client-certificate': 'pki/client.crt', 'client-key-data': b64(KEY) }, robot: { token: 'robot-token' }, nobody: {} },
          contexts: { 'prod-admin': { cluster: 'prod', user: 'admin', namespace: 'l2lb-system' }, 'lab-robot': { cluster: 'lab', user: 'robot' }, 'lab-anon': { cluster: 'lab', user: 'nobody', namespace: 'default' } },
          current: 'lab-robot',
        }, 'multi'),
        contexts: ['prod-admin', 'lab-robot', 'lab-anon'],
      },
    ];
  }

  test('server, CA, client certificate and key, token, namespace and insecure-skip-tls-verify agree', async () => {
    let compared = 0;
    for (const { path, contexts } of files()) {
      for (const context of contexts) {
        const ours = load(path, context);
        const kc = new KubeConfig();
        kc.loadFromFile(path);
        kc.setCurrentContext(context);
        const opts: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean; headers?: Record<string, string> } = {};
        await kc.applyToHTTPSOptions(opts as never);
        const theirs = {
          server: kc.getCurrentCluster()!.server,
          ca: opts.ca?.toString(),
          cert: opts.cert?.toString(),
          key: opts.key?.toString(),
          token: opts.headers?.Authorization?.replace(/^Bearer /, '').trim(),
          namespace: kc.getContextObject(context)?.namespace ?? 'default',
          insecure: opts.rejectUnauthorized === false,
        };
        const mine = {
          server: ours.server,
          ca: ours.caPem,
          cert: ours.certPem,
          key: ours.keyPem,
          token: await ours.token?.(),
          namespace: ours.namespace,
          insecure: ours.insecureSkipTLSVerify === true,
        };
        expect({ context, ...mine }).toEqual({ context, ...theirs });
        compared++;
      }
    }
    expect(compared).toBe(7);
  });
});
