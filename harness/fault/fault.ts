// A fault as a small state machine (ready → active → recovered; any error → invalid), after
// roachprod's failure modes: inject, wait for it to take hold, recover, wait for recovery, and a
// cleanup that recovers first if the fault is still active — so teardown never leaves a node stopped.

export type FaultState = 'ready' | 'active' | 'recovering' | 'recovered' | 'invalid';

/** What one fault type does to one node. Each inject is paired with its undo. */
export interface FaultMode {
  readonly type: string;
  /** Preconditions, before anything is done (e.g. the node exists and runs). */
  setup?(): Promise<void>;
  inject(): Promise<void>;
  /** Resolves once the fault has taken hold (the process group is gone, the volume is paused). */
  waitForPropagation?(): Promise<void>;
  recover(): Promise<void>;
  /** Resolves once the system serves again; rejects after the timeout. */
  waitForRecovery(timeoutMs: number): Promise<void>;
}

export class InvalidTransition extends Error {}

export class FaultInjection {
  private _state: FaultState = 'ready';
  error?: string;

  constructor(readonly mode: FaultMode) {}

  get state(): FaultState {
    return this._state;
  }

  private async step(from: FaultState[], during: FaultState | null, to: FaultState, fn: () => Promise<void>): Promise<void> {
    if (!from.includes(this._state)) throw new InvalidTransition(`${this.mode.type}: cannot go from ${this._state} to ${to}`);
    if (during) this._state = during;
    try {
      await fn();
      this._state = to;
    } catch (e) {
      this._state = 'invalid';
      this.error = (e as Error).message;
      throw e;
    }
  }

  async inject(): Promise<void> {
    await this.step(['ready'], null, 'active', async () => {
      await this.mode.setup?.();
      await this.mode.inject();
      await this.mode.waitForPropagation?.();
    });
  }

  async recover(): Promise<void> {
    await this.step(['active'], 'recovering', 'recovered', () => this.mode.recover());
  }

  async waitForRecovery(timeoutMs: number): Promise<void> {
    if (this._state !== 'recovered') throw new InvalidTransition(`${this.mode.type}: waitForRecovery in state ${this._state}`);
    try {
      await this.mode.waitForRecovery(timeoutMs);
    } catch (e) {
      this.error = (e as Error).message;
      throw e;
    }
  }

  /**
   * Whatever happened, undo what is still in effect. An invalid fault may have been half-injected
   * (inject threw after stopping a process), so its undo is attempted too; undo verbs are idempotent.
   */
  async cleanup(): Promise<void> {
    if (this._state === 'active' || this._state === 'recovering' || this._state === 'invalid') {
      try {
        await this.mode.recover();
        if (this._state !== 'invalid') this._state = 'recovered';
      } catch (e) {
        this._state = 'invalid';
        this.error = (e as Error).message;
        throw e;
      }
    }
  }
}
