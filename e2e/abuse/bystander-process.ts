// The bystander room in a process of its own, so that the attacks' own work in the harness never
// delays the bystanders' clocks: a relay round trip measured here is the server's, not ours.
// Run as a child (ABUSE_BYSTANDER=1) it obeys its parent over IPC; the parent uses RemoteBystander.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bystander, type BystanderOptions, type BystanderWindow } from './bystander.ts';

type Command = 'mark' | 'settle' | 'probe' | 'stop';
interface Request { id: number; cmd: Command | 'start'; options?: BystanderOptions }
interface Reply { id: number; result?: unknown; error?: string }

/** The parent's handle on a bystander room running in a child process; the same calls as Bystander's. */
export class RemoteBystander {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = fork(fileURLToPath(import.meta.url), [], {
      env: { ...process.env, ABUSE_BYSTANDER: '1' },
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
    this.child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`the bystander process exited (${code})`));
      this.waiting.clear();
    });
  }

  private call<T>(cmd: Request['cmd'], options?: BystanderOptions): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, options } satisfies Request);
    });
  }

  /** See Bystander.start. */
  start(options: BystanderOptions): Promise<void> {
    return this.call('start', options);
  }

  /** See Bystander.mark. */
  mark(): Promise<BystanderWindow> {
    return this.call('mark');
  }

  /** See Bystander.settle. */
  settle(): Promise<BystanderWindow> {
    return this.call('settle');
  }

  /** See Bystander.probeJoin. */
  probeJoin(): Promise<number | string> {
    return this.call('probe');
  }

  /** Stops the room and ends the child process. */
  async stop(): Promise<void> {
    await this.call('stop').catch(() => undefined);
    this.child.kill();
  }
}

if (process.env.ABUSE_BYSTANDER === '1' && process.send) {
  let room: Bystander | undefined;
  process.on('message', (m: Request) => {
    const run = async (): Promise<unknown> => {
      if (m.cmd === 'start') {
        room = new Bystander(m.options!);
        return room.start();
      }
      if (room === undefined) throw new Error('not started');
      if (m.cmd === 'mark') return room.mark();
      if (m.cmd === 'settle') return room.settle();
      if (m.cmd === 'probe') return room.probeJoin();
      room.stop();
      return undefined;
    };
    run().then(
      (result) => process.send!({ id: m.id, result } satisfies Reply),
      (e: unknown) => process.send!({ id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies Reply),
    );
    if (m.cmd === 'stop') setTimeout(() => process.exit(0), 100);
  });
  // The parent gone means the run is over, whatever happened to it.
  process.on('disconnect', () => process.exit(0));
}
