import type { MessagePort } from 'node:worker_threads';
export declare function parseDsn(dsn: string): Record<string, unknown>;
export declare function attachVu(port: MessagePort, sab: SharedArrayBuffer, vu: number): void;
export declare function terminateBackends(vus: number[]): Promise<void>;
export declare function connectionCount(): number;
export declare function closeAll(): Promise<void>;
