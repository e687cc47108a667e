import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './helpers';

const root = path.join(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cjs', 'cli', 'main.js');

describe('discv4 CLI signals (built CLI)', () => {
  it('exits at once on a second signal while a slow graceful shutdown is still running', async () => {
    assert.ok(fs.existsSync(cli), 'dist/ is missing: run `npm run build` (npm test does)');
    const cwd = tempDir();
    const child = spawn(process.execPath, ['-r', path.join(__dirname, 'fixtures', 'slow-close.cjs'), cli, '--addr', '127.0.0.1:0', '--datadir', cwd, '--status-interval', '0', '--log-format', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = async (pred: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return pred();
    };
    try {
      assert.ok(await waitFor(() => /enr:/.test(out), 10_000), `no start: ${err}`);
      child.kill('SIGTERM');
      assert.ok(await waitFor(() => /shutting down/.test(err), 5_000), 'no graceful shutdown started');
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, err);
      assert.match(err, /second SIGINT: exiting now/);
      assert.doesNotMatch(err, /"msg":"stopped"/, 'waited for the slow shutdown instead of exiting at once');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
