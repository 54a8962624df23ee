// The core must stay a pure state machine: no clocks, timers, randomness, DOM, storage or
// network. This reads the source, so a change that reaches for one of them fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = new URL('.', import.meta.url).pathname;
const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'harness.ts');
const ALLOWED_IMPORTS = /^(\.\/[\w-]+\.ts|cborg|valibot|@noble\/hashes\/sha2\.js)$/;
const FORBIDDEN = [
  /\bDate\b/, /\bperformance\b/, /\bsetTimeout\b/, /\bsetInterval\b/, /\bMath\.random\b/, /\bcrypto\.getRandomValues\b/,
  /\bwindow\./, /\bglobalThis\b/, /\bdocument\./, /\bindexedDB\b/, /\blocalStorage\b/, /\bsessionStorage\b/, /\bfetch\(/, /\bWebSocket\b/,
  /\bRTCPeerConnection\b/, /\bprocess\./, /\bconsole\./,
];

describe('src/core', () => {
  it('has sources to check', () => {
    expect(sources).toEqual(expect.arrayContaining(['replica.ts', 'messages.ts', 'lunch.ts', 'adversaries.ts']));
  });

  for (const file of sources) {
    it(`${file} imports nothing that does I/O and touches no clock, timer or randomness`, () => {
      const text = readFileSync(join(dir, file), 'utf8');
      const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      const imports = [...code.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);
      for (const spec of imports) expect(spec, `${file} imports ${spec}`).toMatch(ALLOWED_IMPORTS);
      for (const pattern of FORBIDDEN) expect(code, `${file} uses ${pattern}`).not.toMatch(pattern);
    });
  }
});
