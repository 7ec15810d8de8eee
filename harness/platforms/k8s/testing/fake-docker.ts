// docker as it behaves for kind node containers, for tests of kind's node verbs and faults: each
// worker's state (running, paused, kubelet, address, database container), every call recorded as an
// argument array.
import type { Exec } from '../cluster.ts';
import { StatebenchError } from '../../../errors.ts';

export class FakeDocker {
  readonly calls: string[][] = [];
  readonly nodes = new Map<string, { running: boolean; paused: boolean; kubelet: 'active' | 'inactive'; ip: string; container: string; nextIp?: string }>();
  /** Called after each command, so a test can play what the cluster does in reaction. */
  after?: (args: string[]) => void;
  probeAnswer = 'primary 742';
  /** What `ps -eo pid=,ppid=,args=` prints in a node, in turn (the last one repeats). */
  psOutputs: string[] = [''];

  constructor(workers: string[]) {
    workers.forEach((w, i) => this.nodes.set(w, { running: true, paused: false, kubelet: 'active', ip: `172.18.0.${3 + i}`, container: `c0ffee${i}aa11bb22` }));
  }

  exec: Exec = async (cmd, args) => {
    this.calls.push([cmd, ...args]);
    try {
      return { stdout: this.answer(args), stderr: '' };
    } finally {
      this.after?.(args);
    }
  };

  private answer(args: string[]): string {
    const name = args[0] === 'inspect' || args[0] === 'kill' || args[0] === 'stop' ? args[3] : args[1];
    const n = this.nodes.get(name);
    if (!n) throw new StatebenchError(`docker ${args.join(' ')} failed: Error response from daemon: No such container: ${name}`);
    switch (args[0]) {
      case 'inspect':
        if (args[2] === '{{json .State}}') return JSON.stringify({ Status: n.paused ? 'paused' : n.running ? 'running' : 'exited', Running: n.running, Paused: n.paused, ExitCode: n.running ? 0 : 137 });
        return JSON.stringify(n.running ? { kind: { IPAddress: n.ip, Gateway: '172.18.0.1' } } : { kind: { IPAddress: '' } });
      case 'kill':
        if (!n.running) throw new StatebenchError(`docker kill failed: container ${name} is not running`);
        n.running = false;
        return `${name}\n`;
      case 'stop':
        n.running = false;
        n.paused = false;
        return `${name}\n`;
      case 'start':
        if (n.paused) throw new StatebenchError(`docker start failed: cannot start a paused container, try unpause instead`);
        n.running = true;
        if (n.nextIp) n.ip = n.nextIp;
        return `${name}\n`;
      case 'pause':
        n.paused = true;
        return '';
      case 'unpause':
        if (!n.paused) throw new StatebenchError(`docker unpause failed: Container ${name} is not paused`);
        n.paused = false;
        return '';
      case 'exec': {
        if (!n.running || n.paused) throw new StatebenchError(`docker exec failed: container ${name} is not running`);
        const rest = args.slice(2);
        if (rest[0] === 'systemctl' && rest[1] === 'show') return `${n.kubelet}\n`;
        if (rest[0] === 'systemctl' && (rest[1] === 'stop' || rest[1] === 'start')) {
          n.kubelet = rest[1] === 'stop' ? 'inactive' : 'active';
          return '';
        }
        if (rest[0] === 'crictl' && rest[1] === 'ps') return n.container ? `${n.container}\n` : '';
        if (rest[0] === 'crictl' && rest[1] === 'exec') return `${this.probeAnswer}\n`;
        if (rest[0] === 'ps') return this.psOutputs.length > 1 ? this.psOutputs.shift()! : this.psOutputs[0];
        throw new StatebenchError(`unexpected docker exec ${rest.join(' ')}`);
      }
      default:
        throw new StatebenchError(`unexpected docker ${args.join(' ')}`);
    }
  }

  /** Calls without the read-only inspections, for asserting what was done. */
  actions(): string[] {
    return this.calls.filter((c) => c[1] !== 'inspect' && !(c[1] === 'exec' && ['show', 'ps'].includes(c[4]))).map((c) => c.slice(1).join(' '));
  }
}
