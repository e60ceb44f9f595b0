// README's configuration table is generated from CONFIG_VARS (scripts/config-table.js); this keeps
// them equal, so the README never documents a variable that does not exist or misses one that does.
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_VARS } from '../../signaling/src/config';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

function tableRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| (.*?) \|/.exec(line);
    if (m) rows.set(m[1], m[2]);
  }
  return rows;
}

describe('README configuration table', () => {
  const rows = tableRows();

  it('lists every configuration variable with its default', () => {
    for (const v of CONFIG_VARS) {
      const shown = v.default === '' ? '(empty)' : `\`${v.default.replace(/\|/g, '\\|')}\``;
      expect([v.name, rows.get(v.name)]).toEqual([v.name, shown]);
    }
  });

  it('lists nothing that is not a configuration variable', () => {
    const names = new Set(CONFIG_VARS.map((v) => v.name));
    for (const name of rows.keys()) expect([name, names.has(name)]).toEqual([name, true]);
  });
});
