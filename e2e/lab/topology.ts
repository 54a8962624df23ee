// The lab's network: a "public" bridge with an app host and a TURN host, and four member hosts,
// each behind its own NAT router. Everything here runs inside the private network and mount
// namespaces that run.ts made (`unshare -n -m`), so the names under /run/netns, the bridge and
// every veth exist only there and vanish with it; no interface of the real host is touched.
//
//                 lab-pub bridge, 10.77.0.0/24 (the "internet")
//     ┌──────────────┬──────────────┬─────────┬─────────┬─────────┐
//   lab-app        lab-turn      lab-rtr1   lab-rtr2  lab-rtr3  lab-rtr4    wan 10.77.0.10N
//   10.77.0.10     10.77.0.20       │ masquerade (nftables), forward only what the LAN started
//                                 lab-m1     lab-m2    lab-m3    lab-m4      lan 10.78.N.0/24
//
// The public hosts have no route to any 10.78.N.0/24, and the routers none to each other's LANs:
// a member's own address is unreachable from everywhere but its own LAN.
import { execFileSync } from 'node:child_process';

export const PUBLIC_PREFIX = '10.77.0';
export const APP_IP = `${PUBLIC_PREFIX}.10`;
export const TURN_IP = `${PUBLIC_PREFIX}.20`;
export const MEMBERS = [1, 2, 3, 4] as const;
export type MemberNo = (typeof MEMBERS)[number];

export const ns = {
  app: 'lab-app',
  turn: 'lab-turn',
  router: (n: MemberNo) => `lab-rtr${n}`,
  member: (n: MemberNo) => `lab-m${n}`,
};
export const routerWanIp = (n: MemberNo) => `${PUBLIC_PREFIX}.${100 + n}`;
export const memberIp = (n: MemberNo) => `10.78.${n}.10`;

export function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

const ip = (...args: string[]) => sh('ip', args);
const inNs = (name: string, ...args: string[]) => sh('ip', ['-n', name, ...args]);

function addHost(name: string, veth: string, address: string): void {
  ip('netns', 'add', name);
  inNs(name, 'link', 'set', 'lo', 'up');
  // Both ends are made here, in the lab's namespace, and one is moved straight into the host.
  ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name);
  ip('link', 'set', veth, 'master', 'lab-pub', 'up');
  inNs(name, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
  inNs(name, 'link', 'set', 'eth0', 'up');
}

const NAT_RULES = `
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
  }
}
table ip filter {
  # Unsolicited packets to the router itself are dropped here, before conntrack keeps an entry
  # for them: such an entry would take the port that the LAN host's own outgoing packets to the
  # same address need, and masquerade would move them to another port (hole punching then fails).
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iifname { "lo", "lan" } accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
}
`;

export function buildTopology(): void {
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'lab-pub', 'type', 'bridge');
  ip('addr', 'add', `${PUBLIC_PREFIX}.1/24`, 'dev', 'lab-pub');
  ip('link', 'set', 'lab-pub', 'up');
  addHost(ns.app, 'v-app', APP_IP);
  addHost(ns.turn, 'v-turn', TURN_IP);
  for (const n of MEMBERS) {
    const router = ns.router(n);
    const member = ns.member(n);
    ip('netns', 'add', router);
    inNs(router, 'link', 'set', 'lo', 'up');
    ip('link', 'add', `v-rtr${n}`, 'type', 'veth', 'peer', 'name', 'wan', 'netns', router);
    ip('link', 'set', `v-rtr${n}`, 'master', 'lab-pub', 'up');
    inNs(router, 'addr', 'add', `${routerWanIp(n)}/24`, 'dev', 'wan');
    inNs(router, 'link', 'set', 'wan', 'up');
    ip('netns', 'add', member);
    inNs(member, 'link', 'set', 'lo', 'up');
    inNs(router, 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', member);
    inNs(router, 'addr', 'add', `10.78.${n}.1/24`, 'dev', 'lan');
    inNs(router, 'link', 'set', 'lan', 'up');
    inNs(member, 'addr', 'add', `${memberIp(n)}/24`, 'dev', 'eth0');
    inNs(member, 'link', 'set', 'eth0', 'up');
    inNs(member, 'route', 'add', 'default', 'via', `10.78.${n}.1`);
    sh('ip', ['netns', 'exec', router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    sh('ip', ['netns', 'exec', router, 'nft', '-f', '-'], NAT_RULES);
  }
}

export function destroyTopology(): void {
  for (const name of [ns.app, ns.turn, ...MEMBERS.flatMap((n) => [ns.member(n), ns.router(n)])]) {
    try {
      ip('netns', 'del', name);
    } catch {
      // already gone
    }
  }
  try {
    ip('link', 'del', 'lab-pub');
  } catch {
    // already gone
  }
}

/** Cuts (or restores) a member's uplink: its router's public side goes down, as a broken line would. */
export function setUplink(n: MemberNo, up: boolean): void {
  inNs(ns.router(n), 'link', 'set', 'wan', up ? 'up' : 'down');
}
