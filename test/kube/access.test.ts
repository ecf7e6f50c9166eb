/**
 * Finding the API server and credentials: kubeconfig (token, client certificate, exec plugin), in-cluster
 * service account (rotating token), the order of sources, and errors that name the file and what is wrong.
 * The TLS checks run a child Bun with a clean environment (no NODE_EXTRA_CA_CERTS) against the stand-in.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfigError, loadKubeAccess } from '../../src/kube/access.ts';
import { StandIn } from '../support/kube/standin.ts';

const ROOT = join(import.meta.dir, '..', '..');
const BUN = join(ROOT, 'node_modules', '.bin', 'bun');
let dir: string;

function kubeconfig(name: string, user: Record<string, unknown>, cluster: { server?: string; ca?: string; caFile?: string; skip?: boolean } = {}): string {
  const path = join(dir, name);
  writeFileSync(path, `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
    server: ${cluster.server ?? 'https://192.0.2.1:6443/'}
${cluster.caFile ? `    certificate-authority: ${String(cluster.caFile)}\n` : ''}${cluster.ca ? `    certificate-authority-data: ${Buffer.from(String(cluster.ca)).toString('base64')}\n` : ''}${cluster.skip ? '    insecure-skip-tls-verify: true\n' : ''}users:
- name: u1
  user: ${JSON.stringify(user)}
contexts:
- name: ctx1
  context: {cluster: c1, user: u1, namespace: team-a}
- name: ctx2
  context: {cluster: c1, user: u1}
current-context: ctx1
`);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'l2lb-access-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kubeconfig', () => {
  test('token user: server, namespace, CA, token, source with the context', async () => {
    const path = kubeconfig('token.yaml', { token: 'abc123\n' }, { ca: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n' });
    const a = loadKubeAccess({ kubeconfig: path, env: {} });
    expect(a.server).toBe('https://192.0.2.1:6443');
    expect(a.namespace).toBe('team-a');
    expect(a.caPem).toContain('BEGIN CERTIFICATE');
    expect(await a.token?.()).toBe('abc123');
    expect(a.certPem).toBeUndefined();
    expect(a.source).toBe(`kubeconfig ${path} (context ctx1)`);
  });

  test('client certificate from files relative to the kubeconfig, and an explicit context', () => {
    writeFileSync(join(dir, 'client.crt'), 'CERT PEM');
    writeFileSync(join(dir, 'client.key'), 'KEY PEM');
    const path = kubeconfig('cert.yaml', { 'client-certificate': 'client.crt', 'client-key': 'client.key' }, { skip: true });
    const a = loadKubeAccess({ kubeconfig: path, context: 'ctx2', env: {} });
    expect(a.certPem).toBe('CERT PEM');
    expect(a.keyPem).toBe('KEY PEM');
    expect(a.token).toBeUndefined();
    expect(a.insecureSkipTLSVerify).toBe(true);
    expect(a.namespace).toBe('default');
    expect(a.source).toContain('(context ctx2)');
  });

  test('tokenFile (relative to the kubeconfig, winning over token): read again after the cache time, or at once when asked fresh', async () => {
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    writeFileSync(join(dir, 'secrets', 'token'), 'projected-1\n');
    const path = kubeconfig('token-file.yaml', { tokenFile: 'secrets/token', token: 'static' });
    const a = loadKubeAccess({ kubeconfig: path, env: {}, tokenCacheMs: 150 });
    expect(await a.token?.()).toBe('projected-1');
    writeFileSync(join(dir, 'secrets', 'token'), 'projected-2\n');
    expect(await a.token?.()).toBe('projected-1');
    // after a 401: the file is read again now, not when the cache runs out
    expect(await a.token?.({ fresh: true })).toBe('projected-2');
    writeFileSync(join(dir, 'secrets', 'token'), 'projected-3\n');
    await Bun.sleep(200);
    expect(await a.token?.()).toBe('projected-3');
    // client-node's spelling is read the same way
    const dashed = kubeconfig('token-file-dashed.yaml', { 'token-file': join(dir, 'secrets', 'token') });
    const b = loadKubeAccess({ kubeconfig: dashed, env: {}, tokenCacheMs: 150 });
    writeFileSync(join(dir, 'secrets', 'token'), 'projected-4\n');
    expect(await b.token?.({ fresh: true })).toBe('projected-4');
  });

  test('a tokenFile that cannot be read fails at start, naming the kubeconfig, the user and the file', () => {
    const path = kubeconfig('token-file-missing.yaml', { tokenFile: join(dir, 'no-such-token') });
    expect(() => loadKubeAccess({ kubeconfig: path, env: {} })).toThrow(KubeConfigError);
    expect(() => loadKubeAccess({ kubeconfig: path, env: {} })).toThrow(`kubeconfig ${path} (context ctx1): cannot read tokenFile ${join(dir, 'no-such-token')}`);
  });

  test('exec credential plugin supplies the token', async () => {
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec' } });
    const path = kubeconfig('exec.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', `echo '${credential}'`] } });
    expect(await loadKubeAccess({ kubeconfig: path, env: {} }).token?.()).toBe('from-exec');
  });

  test('a failing exec plugin is a KubeConfigError naming the user', async () => {
    const path = kubeconfig('exec-bad.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', 'echo nope >&2; exit 3'] } });
    const token = loadKubeAccess({ kubeconfig: path, env: {} }).token;
    expect(token).toBeDefined();
    await expect(token!()).rejects.toThrow(/credential plugin of user "u1" failed/);
  });

  test('errors name the file and what is missing', () => {
    const missing = join(dir, 'nope.yaml');
    expect(() => loadKubeAccess({ kubeconfig: missing, env: {} })).toThrow(KubeConfigError);
    expect(() => loadKubeAccess({ kubeconfig: missing, env: {} })).toThrow(`kubeconfig ${missing}: cannot read file ${missing}: ENOENT`);
    const fromEnv = () => loadKubeAccess({ env: { KUBECONFIG: missing } });
    expect(fromEnv).toThrow(/nope\.yaml.*\(from KUBECONFIG\)$/);

    const noKey = kubeconfig('nokey.yaml', { 'client-certificate-data': Buffer.from('C').toString('base64') });
    expect(() => loadKubeAccess({ kubeconfig: noKey, env: {} })).toThrow(/nokey\.yaml \(context ctx1\): user "u1" has a client certificate but no client-key/);

    const badCa = kubeconfig('badca.yaml', { token: 't' }, { caFile: '/nonexistent/ca.crt' });
    expect(() => loadKubeAccess({ kubeconfig: badCa, env: {} })).toThrow(/badca\.yaml \(context ctx1\): cannot read certificate-authority \/nonexistent\/ca\.crt: ENOENT/);

    const noCtx = kubeconfig('noctx.yaml', { token: 't' });
    expect(() => loadKubeAccess({ kubeconfig: noCtx, context: 'prod', env: {} })).toThrow(/context "prod" not found \(contexts: ctx1, ctx2\)/);

    const noServer = join(dir, 'noserver.yaml');
    writeFileSync(noServer, 'clusters:\n- name: c1\n  cluster: {}\ncontexts: []\nusers: []\n');
    expect(() => loadKubeAccess({ kubeconfig: noServer, env: {} })).toThrow(/noserver\.yaml: clusters\[0\]\.cluster\.server is missing/);

    const basic = kubeconfig('basic.yaml', { username: 'admin', password: 'secret' });
    expect(() => loadKubeAccess({ kubeconfig: basic, env: {} })).toThrow(/basic auth/);
  });
});

describe('source order', () => {
  let sa: string;
  let home: string;
  beforeAll(() => {
    sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token-1\n');
    writeFileSync(join(sa, 'ca.crt'), 'SA CA PEM');
    writeFileSync(join(sa, 'namespace'), 'l2lb-system');
    home = join(dir, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(join(home, '.kube', 'config'), readFileSync(kubeconfig('home-src.yaml', { token: 'home-token' }), 'utf8'));
  });
  const inPod = () => ({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443', HOME: home });

  test('explicit path > KUBECONFIG > in-cluster > ~/.kube/config', () => {
    const explicit = kubeconfig('explicit.yaml', { token: 'e' });
    const envFile = kubeconfig('env.yaml', { token: 'k' });
    expect(loadKubeAccess({ kubeconfig: explicit, env: { ...inPod(), KUBECONFIG: envFile }, serviceAccountDir: sa }).source).toContain('explicit.yaml');
    expect(loadKubeAccess({ env: { ...inPod(), KUBECONFIG: `${envFile}:${explicit}` }, serviceAccountDir: sa }).source).toContain('env.yaml');
    expect(loadKubeAccess({ env: inPod(), serviceAccountDir: sa }).source).toBe('in-cluster');
    expect(loadKubeAccess({ env: { HOME: home }, serviceAccountDir: sa }).source).toBe(`kubeconfig ${join(home, '.kube', 'config')} (context ctx1)`);
    // In a pod without a mounted token, the home config is next.
    expect(loadKubeAccess({ env: inPod(), serviceAccountDir: join(dir, 'no-sa') }).source).toContain('.kube/config');
  });

  test('in-cluster: IPv6 service host in brackets, CA and namespace from the service-account dir', async () => {
    const a = loadKubeAccess({ env: inPod(), serviceAccountDir: sa });
    expect(a.server).toBe('https://[fd00::1]:6443');
    expect(a.caPem).toBe('SA CA PEM');
    expect(a.namespace).toBe('l2lb-system');
    expect(await a.token?.()).toBe('sa-token-1');
  });

  test('in-cluster: a rotated token is picked up after the cache time, not before', async () => {
    const rotating = join(dir, 'sa-rot');
    mkdirSync(rotating);
    writeFileSync(join(rotating, 'token'), 'first');
    writeFileSync(join(rotating, 'ca.crt'), 'CA');
    const a = loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: '192.0.2.1' }, serviceAccountDir: rotating, tokenCacheMs: 150 });
    expect(a.server).toBe('https://192.0.2.1:443');
    expect(a.namespace).toBe('default');
    expect(await a.token?.()).toBe('first');
    writeFileSync(join(rotating, 'token'), 'second');
    expect(await a.token?.()).toBe('first');
    await Bun.sleep(200);
    expect(await a.token?.()).toBe('second');
    // The kubelet swaps the file atomically; a moment without it keeps the last token rather than none.
    rmSync(join(rotating, 'token'));
    await Bun.sleep(200);
    expect(await a.token?.()).toBe('second');
  });

  test('in-cluster without ca.crt names the file', () => {
    const noCa = join(dir, 'sa-noca');
    mkdirSync(noCa);
    writeFileSync(join(noCa, 'token'), 't');
    expect(() => loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: '192.0.2.1' }, serviceAccountDir: noCa })).toThrow(`in-cluster (${noCa}): cannot read service-account CA ${join(noCa, 'ca.crt')}`);
  });

  test('nothing found: one error listing every source tried', () => {
    expect(() => loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: '192.0.2.1', HOME: join(dir, 'empty-home') }, serviceAccountDir: join(dir, 'no-sa') })).toThrow(
      /no Kubernetes configuration found: kubernetes\.kubeconfig is not set; KUBECONFIG is not set; KUBERNETES_SERVICE_HOST is set but .*no-sa\/token does not exist; .*empty-home\/\.kube\/config does not exist/,
    );
  });
});

/** Runs test/kube/probe.ts in a child Bun whose environment has no NODE_EXTRA_CA_CERTS (nor SSL_CERT_*). */
function probe(kubeconfigPath: string, path: string): { ok: boolean; names?: string[]; error?: string; status?: number } {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
  const r = Bun.spawnSync([BUN, join(ROOT, 'test', 'kube', 'probe.ts'), kubeconfigPath, path], { env, cwd: ROOT });
  const out = r.stdout.toString().trim();
  if (!out) throw new Error(`probe printed nothing: ${r.stderr.toString()}`);
  return JSON.parse(out.split('\n').at(-1)!);
}

describe('TLS with the kubeconfig (child process, NODE_EXTRA_CA_CERTS unset)', () => {
  let api: StandIn;
  beforeAll(async () => {
    api = await StandIn.start();
    await api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'tls-probe', namespace: 'default' }, spec: { type: 'ClusterIP', ports: [{ port: 80 }] } });
  });
  afterAll(async () => {
    await api?.close();
  });

  test('token and client certificate kubeconfigs both work through the private CA', async () => {
    for (const mode of ['token', 'cert'] as const) {
      const path = join(dir, `standin-${mode}.yaml`);
      api.writeKubeconfig(path, mode);
      const r = probe(path, '/api/v1/namespaces/default/services');
      expect(r).toMatchObject({ ok: true });
      expect(r.names).toContain('tls-probe');
      // Who the server saw: the token's service account, or the certificate's CN.
      const last = (await api.requests()).at(-1);
      expect(last?.user).toBe(mode === 'token' ? 'system:serviceaccount:l2lb-system:l2lb' : 'l2lb');
    }
  });

  test('a wrong CA fails the TLS handshake (the CA given is the one trusted)', () => {
    const path = join(dir, 'standin-wrong-ca.yaml');
    api.writeKubeconfig(path, 'token');
    const wrong = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=wrong-ca', '-days', '1']);
    const wrongPem = wrong.stdout.toString();
    expect(wrongPem).toContain('BEGIN CERTIFICATE');
    const text = readFileSync(path, 'utf8');
    const replaced = text.replace(/certificate-authority-data: \S+/, `certificate-authority-data: ${Buffer.from(wrongPem).toString('base64')}`);
    expect(replaced).not.toBe(text);
    writeFileSync(path, replaced);
    const r = probe(path, '/api/v1/namespaces/default/services');
    expect(r.ok).toBe(false);
    expect(r.status).toBeUndefined();
    expect(r.error).toMatch(/certificate|self.signed|SELF_SIGNED|UNABLE_TO_VERIFY|issuer/i);
  });

  test('a client certificate that is not sent is refused (401): the certificate is what authenticates', () => {
    const path = join(dir, 'standin-nocert.yaml');
    api.writeKubeconfig(path, 'cert');
    const text = readFileSync(path, 'utf8');
    const stripped = text.replace(/^\s*client-(certificate|key)(-data)?: .*\n/gm, '');
    expect(stripped).not.toBe(text);
    writeFileSync(path, stripped);
    const r = probe(path, '/api/v1/namespaces/default/services');
    expect(r).toMatchObject({ ok: false, status: 401 });
  });
});
