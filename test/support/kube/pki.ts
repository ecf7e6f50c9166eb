/**
 * Certificates for the API server stand-in, made with the `openssl` CLI: a server CA and a serving
 * certificate (SANs for 127.0.0.1, ::1, localhost and the in-cluster names), and a separate client CA that
 * signs client certificates (CN = user name, O = groups), as kube-apiserver's `--client-ca-file`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A PEM certificate with its PEM private key. */
export interface CertPair {
  certPem: string;
  keyPem: string;
}

/** Everything {@link createPki} writes. */
export interface Pki {
  /** The CA that signed the serving certificate: what clients trust. */
  caPem: string;
  /** The CA that client certificates must chain to. */
  clientCaPem: string;
  /** A client certificate for user `l2lb` in group `system:masters`. */
  client: CertPair;
}

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync({ cmd: ['openssl', ...args], cwd, stdout: 'pipe', stderr: 'pipe' });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr.toString()}`);
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const DAYS = ['-days', '30'];

function serial(): string {
  return '0x' + [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function makeCa(dir: string, name: string, cn: string): void {
  openssl(
    ['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, ...DAYS, '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
}

function signLeaf(dir: string, ca: string, name: string, subject: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', serial(), '-out', `${name}.crt`, ...DAYS,
      '-extfile', `${name}.ext`],
    dir,
  );
}

/** An OpenSSL subject for a user and its groups (CN = user, one O per group). */
function subjectFor(user: string, groups: string[]): string {
  const esc = (s: string) => s.replace(/[/\\+=,]/g, (c) => `\\${c}`);
  return `${groups.map((g) => `/O=${esc(g)}`).join('')}/CN=${esc(user)}`;
}

/**
 * Creates the CAs, the serving certificate and the default client certificate in `dir`
 * (server.crt/server.key/client-ca.crt are what the server reads).
 * @param extraSans more SAN entries, e.g. `IP:198.51.100.1` when the stand-in listens elsewhere
 */
export function createPki(dir: string, extraSans: string[] = []): Pki {
  makeCa(dir, 'ca', 'stand-in-ca');
  makeCa(dir, 'client-ca', 'stand-in-client-ca');
  const sans = ['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', ...extraSans];
  signLeaf(dir, 'ca', 'server', '/CN=kube-apiserver',
    `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
  const client = issueClientCert(dir, 'l2lb', ['system:masters']);
  writeFileSync(join(dir, 'client.crt'), client.certPem);
  writeFileSync(join(dir, 'client.key'), client.keyPem);
  return { caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), clientCaPem: readFileSync(join(dir, 'client-ca.crt'), 'utf8'), client };
}

/** Signs a client certificate for `user` with the client CA in `dir` (made by {@link createPki}). */
export function issueClientCert(dir: string, user: string, groups: string[] = []): CertPair {
  const name = `client-${crypto.randomUUID()}`;
  signLeaf(dir, 'client-ca', name, subjectFor(user, groups), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  const pair = { certPem: readFileSync(join(dir, `${name}.crt`), 'utf8'), keyPem: readFileSync(join(dir, `${name}.key`), 'utf8') };
  for (const ext of ['crt', 'key', 'csr', 'ext']) rmSync(join(dir, `${name}.${ext}`), { force: true });
  return pair;
}

/** A self-signed client certificate no stand-in trusts (for tests of rejected certificates). */
export function selfSignedCert(cn: string): CertPair {
  const dir = mkdtempSync(join(tmpdir(), 'standin-pki-'));
  try {
    openssl(['req', '-x509', ...KEY, '-keyout', 'x.key', '-out', 'x.crt', ...DAYS, '-subj', `/CN=${cn}`], dir);
    return { certPem: readFileSync(join(dir, 'x.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'x.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
