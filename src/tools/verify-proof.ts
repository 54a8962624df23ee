// Check a saved proof of equivocation from the command line, without a browser:
//
//   npm run verify-proof -- FILE [--roster "ab12 cd34 ef56 7890"]
//
// Exit code 0: the proof is valid. 1: it is not (the reason is printed). 2: nothing was checked
// (bad arguments, or the file could not be read).
import { readFileSync, statSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { PROOF_FILE_MAX_LENGTH, normalizeRosterFingerprint, verifyProofFile } from '../proof/proof-file.ts';

export const USAGE = 'Usage: npm run verify-proof -- FILE [--roster "ab12 cd34 ef56 7890"]';

export interface CliResult {
  code: 0 | 1 | 2;
  out: string[];
  err: string[];
}

type Args = { file: string; roster?: string } | { help: true } | { error: string };

export function parseArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): Args {
  const files: string[] = [];
  let roster: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // A stray "--" (from `npx tsx … -- FILE`) is ignored rather than ending the options.
    if (arg === '--') continue;
    if (arg === '-h' || arg === '--help') return { help: true };
    if (arg === '--roster') {
      const value = argv[++i];
      if (value === undefined) return { error: '--roster needs a value: the roster fingerprint your tab shows.' };
      roster = value;
    } else if (arg.startsWith('--roster=')) roster = arg.slice('--roster='.length);
    else if (arg.startsWith('-')) return { error: `Unknown option ${JSON.stringify(arg)}.` };
    else files.push(arg);
  }
  // `npm run verify-proof FILE --roster X` (without `--`) hands --roster to npm: it sets npm_config_roster
  // (to "true" when it left the value behind as a plain argument) and passes the rest on.
  const npmRoster = env['npm_config_roster'];
  if (roster === undefined && npmRoster !== undefined && npmRoster !== '' && npmRoster !== 'true') roster = npmRoster;
  if (roster === undefined && npmRoster === 'true' && files.length === 2) {
    const fingerprints = files.filter((f) => normalizeRosterFingerprint(f) !== null);
    if (fingerprints.length === 1) {
      roster = fingerprints[0]!;
      files.splice(files.indexOf(roster), 1);
    }
  }
  if (files.length === 0) return { error: 'Name the proof file to check.' };
  if (files.length > 1) return { error: `Name one proof file, not ${files.length}.` };
  return roster === undefined ? { file: files[0]! } : { file: files[0]!, roster };
}

export function run(argv: readonly string[], env: Record<string, string | undefined> = {}): CliResult {
  const out: string[] = [];
  const err: string[] = [];
  const args = parseArgs(argv, env);
  if ('help' in args) return { code: 0, out: [USAGE], err };
  if ('error' in args) return { code: 2, out, err: [args.error, USAGE] };
  if (args.roster !== undefined && normalizeRosterFingerprint(args.roster) === null) {
    return { code: 2, out, err: [`The roster fingerprint ${JSON.stringify(args.roster)} is not 16 hex digits like "ab12 cd34 ef56 7890".`, USAGE] };
  }

  let text: string;
  try {
    const stat = statSync(args.file);
    if (!stat.isFile()) return { code: 2, out, err: [`${args.file} is not a file.`] };
    if (stat.size > PROOF_FILE_MAX_LENGTH) {
      out.push(`INVALID: The file is ${stat.size} bytes; a proof file is at most 1 MiB, so this is not one.`);
      return { code: 1, out, err };
    }
    text = readFileSync(args.file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'there is no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    return { code: 2, out, err: [`Cannot read ${args.file}: ${why}.`] };
  }

  const result = verifyProofFile(text, args.roster === undefined ? {} : { expectRosterFingerprint: args.roster });
  if (result.ok) {
    out.push(`VALID: ${result.finding}`);
    out.push(
      args.roster === undefined
        ? `Roster fingerprint in the file: ${result.rosterFingerprint}; compare it with the one your tab shows.`
        : `Roster fingerprint in the file: ${result.rosterFingerprint}; it matches the one you gave.`,
    );
    return { code: 0, out, err };
  }
  out.push(`INVALID: ${result.reason}`);
  if (result.rosterFingerprint !== undefined) {
    out.push(`Roster fingerprint in the file: ${result.rosterFingerprint}; compare it with the one your tab shows.`);
  }
  return { code: 1, out, err };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = run(process.argv.slice(2), process.env);
  for (const line of result.out) process.stdout.write(`${line}\n`);
  for (const line of result.err) process.stderr.write(`${line}\n`);
  process.exitCode = result.code;
}
