// What run.ts tells the scenarios about the lab it built (a JSON file named by LAB_INFO).
import { readFileSync } from 'node:fs';

export const LAB_INFO_ENV = 'LAB_INFO';

export interface LabInfo {
  /** Base URLs of the app, one server per ICE setting: relay only, all candidates, none, a wrong TURN secret. */
  urls: { relay: string; all: string; noTurn: string; badSecret: string };
  /** One executable per member host: Chromium started through `ip netns exec`. */
  wrappers: string[];
  /** How to stop and start coturn on the TURN host. */
  turn: { netns: string; cmd: string[]; pidFile: string };
}

export function readLabInfo(): LabInfo {
  const path = process.env[LAB_INFO_ENV];
  if (!path) throw new Error('LAB_INFO is not set: run the lab with `npm run lab`, which builds the network first.');
  return JSON.parse(readFileSync(path, 'utf8')) as LabInfo;
}
