/**
 * Exec credential plugins (src/kube/exec.ts), run as real executables (shell scripts in a temp dir) from a
 * kubeconfig loaded as l2lb loads it: what they are given, the token they return and when it is renewed,
 * shared runs, the timeout, the errors an operator sees, and the same under Deno.
 */
import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfigError, loadKubeAccess } from '../../src/kube/access.ts';
import { EXEC_RENEW_BEFORE_MS, type ExecPlugin, execTokenSource } from '../../src/kube/exec.ts';
import { CA, CERT, V1, V1BETA1, b64, places, single, write } from '../support/kubeconfig-files.ts';

const ROOT = join(import.meta.dir, '..', '..');
const place = places('l2lb-exec-');

const load = (path: string, env: Record<string, string | undefined> = {}) => loadKubeAccess({ kubeconfig: path, env });

describe('exec credential plugins (real executables)', () => {
  /** An executable shell script `dir/bin/name`. */
  const script = (dir: string, name: string, body: string) => write(dir, `bin/${name}`, `#!/bin/sh\n${body}\n`, 0o755);
  /** A shell command that counts its runs in `dir/runs`. */
  const counting = (dir: string) => `n=$(( $(cat '${dir}/runs' 2>/dev/null || echo 0) + 1 )); echo $n > '${dir}/runs'`;
  const runs = (dir: string) => (existsSync(join(dir, 'runs')) ? Number(readFileSync(join(dir, 'runs'), 'utf8')) : 0);
  const credential = (status: Record<string, unknown>, apiVersion = V1) => JSON.stringify({ apiVersion, kind: 'ExecCredential', status });
  /** Loads the kubeconfig with `exec` and returns its token source. */
  const source = (dir: string, exec: Record<string, unknown>, cluster: Record<string, unknown> = {}, env: Record<string, string | undefined> = {}) => {
    const token = load(single(dir, { exec: { apiVersion: V1, interactiveMode: 'Never', ...exec } }, cluster), env).token;
    expect(token).toBeDefined();
    return token!;
  };
  const rejection = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (error) {
      expect(error).toBeInstanceOf(KubeConfigError);
      return (error as Error).message;
    }
    throw new Error('resolved');
  };

  test('the token of the ExecCredential, in v1 and v1beta1', async () => {
    const dir = place();
    script(dir, 'v1', `echo '${credential({ token: 'token-v1' })}'`);
    script(dir, 'v1beta1', `echo '${credential({ token: 'token-v1beta1' }, V1BETA1)}'`);
    expect(await source(dir, { command: join(dir, 'bin/v1') })()).toBe('token-v1');
    expect(await source(dir, { apiVersion: V1BETA1, command: './bin/v1beta1' })()).toBe('token-v1beta1');
  });

  test('args and env are passed, on top of the inherited environment; stdin is not a terminal and ends at once', async () => {
    const dir = place();
    script(dir, 'plugin', `input=$(cat | wc -c); [ -t 0 ] && tty=yes || tty=no
echo "{\\"apiVersion\\":\\"${V1}\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$1-$2-$FROM_KUBECONFIG-$INHERITED-$tty-$input\\"}}"`);
    const token = source(dir, { command: 'plugin', args: ['first', 'second'], env: [{ name: 'FROM_KUBECONFIG', value: 'fk' }, { name: 'INHERITED', value: 'overridden' }] }, {}, {
      PATH: `${join(dir, 'bin')}:/usr/bin:/bin`,
      INHERITED: 'parent',
    });
    expect(await token()).toBe('first-second-fk-overridden-no-0');
    const inherited = source(dir, { command: 'plugin', args: ['a', 'b'] }, {}, { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, INHERITED: 'parent', FROM_KUBECONFIG: 'env' });
    expect(await inherited()).toBe('a-b-env-parent-no-0');
  });

  test('KUBERNETES_EXEC_INFO: apiVersion, kind, interactive false; the cluster only with provideClusterInfo', async () => {
    const dir = place();
    write(dir, 'ca.crt', CA);
    script(dir, 'info', `printf '%s' "$KUBERNETES_EXEC_INFO" > "$1"; echo "{\\"apiVersion\\":\\"$2\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"t\\"}}"`);
    const extension = { audience: 'l2lb', nested: { list: [1, 2] } };
    const cluster = { server: 'https://api.example.test:6443/', 'certificate-authority': 'ca.crt', 'tls-server-name': 'api.example.test', extensions: [{ name: 'other', extension: { x: 1 } }, { name: 'client.authentication.k8s.io/exec', extension }] };
    await source(dir, { command: './bin/info', args: [join(dir, 'with.json'), V1], provideClusterInfo: true }, cluster)();
    expect(JSON.parse(readFileSync(join(dir, 'with.json'), 'utf8'))).toEqual({
      apiVersion: V1,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: { server: 'https://api.example.test:6443/', 'tls-server-name': 'api.example.test', 'certificate-authority-data': b64(CA), config: extension },
      },
    });
    await source(dir, { command: './bin/info', args: [join(dir, 'insecure.json'), V1], provideClusterInfo: true }, { 'insecure-skip-tls-verify': true })();
    expect(JSON.parse(readFileSync(join(dir, 'insecure.json'), 'utf8')).spec.cluster).toEqual({ server: 'https://192.0.2.1:6443', 'insecure-skip-tls-verify': true });
    await source(dir, { apiVersion: V1BETA1, command: './bin/info', args: [join(dir, 'without.json'), V1BETA1] })();
    expect(JSON.parse(readFileSync(join(dir, 'without.json'), 'utf8'))).toEqual({ apiVersion: V1BETA1, kind: 'ExecCredential', spec: { interactive: false } });
  });

  test('a token with an expirationTimestamp is reused until shortly before it, then the plugin runs again', async () => {
    const dir = place();
    const credFile = join(dir, 'cred.json');
    script(dir, 'plugin', `${counting(dir)}; cat '${credFile}'`);
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    writeFileSync(credFile, credential({ token: 'hour', expirationTimestamp: at(3_600_000) }));
    const token = source(dir, { command: './bin/plugin' });
    expect([await token(), await token(), await token()]).toEqual(['hour', 'hour', 'hour']);
    expect(runs(dir)).toBe(1);

    // 2 s left: renewed at half of that, well before it expires.
    const near = place();
    script(near, 'plugin', `${counting(near)}; cat '${join(near, 'cred.json')}'`);
    writeFileSync(join(near, 'cred.json'), credential({ token: 'short-1', expirationTimestamp: at(2_000) }));
    const short = source(near, { command: './bin/plugin' });
    expect(await short()).toBe('short-1');
    expect(await short()).toBe('short-1');
    expect(runs(near)).toBe(1);
    writeFileSync(join(near, 'cred.json'), credential({ token: 'short-2', expirationTimestamp: at(3_600_000) }));
    await Bun.sleep(1_100);
    expect(await short()).toBe('short-2');
    expect(runs(near)).toBe(2);

    // Expired by the time it arrives: used for this call (as client-go does), and the plugin runs again on the next.
    const past = place();
    script(past, 'plugin', `${counting(past)}; echo '${credential({ token: 'stale', expirationTimestamp: new Date(Date.now() + EXEC_RENEW_BEFORE_MS / 100).toISOString() })}'`);
    const stale = source(past, { command: './bin/plugin' });
    await Bun.sleep(EXEC_RENEW_BEFORE_MS / 100 + 10);
    await stale();
    await stale();
    expect(runs(past)).toBe(2);
  });

  test('without expirationTimestamp the token is reused until the server refuses it ({fresh: true} runs the plugin again)', async () => {
    const dir = place();
    script(dir, 'plugin', `${counting(dir)}; echo "{\\"apiVersion\\":\\"${V1}\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"token-$n\\"}}"`);
    const token = source(dir, { command: './bin/plugin' });
    expect([await token(), await token()]).toEqual(['token-1', 'token-1']);
    expect(await token({ fresh: true })).toBe('token-2');
    expect(await token()).toBe('token-2');
    expect(runs(dir)).toBe(2);
  });

  test('callers that come while the plugin runs share that one run', async () => {
    const dir = place();
    script(dir, 'plugin', `${counting(dir)}; sleep 0.3; echo "{\\"apiVersion\\":\\"${V1}\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"token-$n\\"}}"`);
    const token = source(dir, { command: './bin/plugin' });
    const all = await Promise.all([token(), token(), token({ fresh: true }), token(), token({ fresh: true })]);
    expect(all).toEqual(['token-1', 'token-1', 'token-1', 'token-1', 'token-1']);
    expect(runs(dir)).toBe(1);
  });

  test('a plugin that exits non-zero: the user, the command, the exit code and the start of stderr; the next call tries again', async () => {
    const dir = place();
    const path = single(dir, { exec: { apiVersion: V1, command: './bin/plugin', args: ['--cluster', 'prod'] } });
    script(dir, 'plugin', `${counting(dir)}; echo 'error: you must be logged in to the server' >&2; echo 'run: plugin login' >&2; exit 3`);
    const token = load(path).token!;
    expect(await rejection(token())).toBe(
      `kubeconfig ${path} (context ctx1): credential plugin of user "u1" failed: command "${join(dir, 'bin/plugin')}" exited with code 3; stderr: error: you must be logged in to the server | run: plugin login`,
    );
    script(dir, 'plugin', `${counting(dir)}; echo '${credential({ token: 'recovered' })}'`);
    expect(await token()).toBe('recovered');
    expect(runs(dir)).toBe(2);
    script(dir, 'long', `head -c 2000 /dev/zero | tr '\\0' x >&2; exit 1`);
    const long = await rejection(source(dir, { command: './bin/long' })());
    expect(long).toMatch(/stderr: x{300}…$/);
  });

  test('output that is not an ExecCredential of the right apiVersion; stdout is never quoted (it may hold a secret)', async () => {
    const dir = place();
    const run = (body: string, apiVersion = V1) => {
      script(dir, 'plugin', body);
      return rejection(source(dir, { apiVersion, command: './bin/plugin' })());
    };
    const garbage = await run("echo 'secret-looking-token'; echo 'warning: cache is stale' >&2");
    expect(garbage).toContain('command "' + join(dir, 'bin/plugin') + '" exited with code 0 but printed no ExecCredential (stdout is not JSON, 21 characters); stderr: warning: cache is stale');
    expect(garbage).not.toContain('secret-looking-token');
    expect(await run(`echo '${credential({ token: 't' }, V1BETA1)}'`)).toContain(`printed an ExecCredential of apiVersion "${V1BETA1}", while the kubeconfig asks for "${V1}"`);
    expect(await run(`echo '{"apiVersion":"v1","kind":"Secret"}'`)).toContain('printed no ExecCredential (JSON of kind "Secret")');
    expect(await run(`echo '{"apiVersion":"${V1}","kind":"ExecCredential"}'`)).toContain('printed an ExecCredential without status');
    expect(await run(`echo '${credential({})}'`)).toContain('returned no status.token');
    expect(await run(`echo '${credential({ clientCertificateData: CERT.replace(/\n/g, '\\n'), clientKeyData: 'k' })}'`)).toContain('returned a client certificate and no token; l2lb takes only tokens from exec plugins');
    expect(await run(`echo '${credential({ token: 't', expirationTimestamp: 'tomorrow' })}'`)).toContain('returned status.expirationTimestamp "tomorrow", which is not an RFC 3339 time');
  });

  test('a command that is not found: where it was looked for, and the installHint', async () => {
    const dir = place();
    const hint = 'gke-gcloud-auth-plugin is needed for GKE.\nInstall it with: gcloud components install gke-gcloud-auth-plugin\n';
    const bare = await rejection(source(dir, { command: 'l2lb-test-no-such-plugin', installHint: hint }, {}, { PATH: join(dir, 'bin') })());
    expect(bare).toEndWith(`command "l2lb-test-no-such-plugin" was not found in PATH (${join(dir, 'bin')}). ${hint.trim()}`);
    const path = await rejection(source(dir, { command: './bin/missing' })());
    expect(path).toEndWith(`command "${join(dir, 'bin/missing')}" does not exist`);
    write(dir, 'bin/not-executable', '#!/bin/sh\n', 0o644);
    expect(await rejection(source(dir, { command: './bin/not-executable' })())).toMatch(/command ".*not-executable" could not be run: .*(EACCES|ermission)/);
  });

  test('a plugin that hangs is killed after the timeout and the call fails', async () => {
    const dir = place();
    script(dir, 'hang', 'exec sleep 30');
    const plugin: ExecPlugin = { where: 'kubeconfig test (context t)', user: 'u1', apiVersion: V1, command: join(dir, 'bin/hang'), args: [], env: [] };
    const started = performance.now();
    const message = await rejection(execTokenSource(plugin, { PATH: '/usr/bin:/bin' }, { timeoutMs: 300 })());
    expect(message).toBe(`kubeconfig test (context t): credential plugin of user "u1" failed: command "${join(dir, 'bin/hang')}" did not finish within 0.3 s and was killed`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test('under Deno too: a token from a plugin, and a failing plugin\'s message', () => {
    const dir = place();
    script(dir, 'plugin', `echo "{\\"apiVersion\\":\\"${V1}\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"deno-$1\\"}}"`);
    script(dir, 'broken', "echo 'no credentials' >&2; exit 2");
    const good = single(dir, { exec: { apiVersion: V1, command: './bin/plugin', args: ['ok'] } });
    const bad = single(place(), { exec: { apiVersion: V1, command: join(dir, 'bin/broken') } });
    // Read from stdin in the repo, so that Deno finds package.json (and `yaml` in node_modules) from the
    // working directory; a script file in the temp dir would look for them there.
    const probe = `import { loadKubeAccess } from ${JSON.stringify(join(ROOT, 'src/kube/access.ts'))};
const out: string[] = [];
for (const kubeconfig of Deno.args) {
  try {
    out.push(String(await loadKubeAccess({ kubeconfig, env: Deno.env.toObject() }).token?.()));
  } catch (error) {
    out.push(\`\${(error as Error).name}: \${(error as Error).message}\`);
  }
}
console.log(JSON.stringify(out));
`;
    const r = Bun.spawnSync([join(ROOT, 'node_modules/.bin/deno'), 'run', '-A', '-', good, bad], { cwd: ROOT, stdin: Buffer.from(probe), env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? dir } });
    const out = r.stdout.toString().trim();
    expect(out, r.stderr.toString()).not.toBe('');
    expect(JSON.parse(out.split('\n').at(-1)!)).toEqual(['deno-ok', `KubeConfigError: kubeconfig ${bad} (context ctx1): credential plugin of user "u1" failed: command "${join(dir, 'bin/broken')}" exited with code 2; stderr: no credentials`]);
  }, 60_000);
});
